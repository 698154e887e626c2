// The type of every credential the exporter holds: the client secret, the
// web config's password hashes.
#ifndef CLOUDAWARE_EXPORTER_BASE_SECRET_H_
#define CLOUDAWARE_EXPORTER_BASE_SECRET_H_

#include <ostream>
#include <string>
#include <utility>

namespace cloudaware_exporter {

// A credential. It prints as "<secret>" so that it cannot end up in logs,
// error messages or the status page by accident; Reveal() is for the one
// place that sends it to the API.
class Secret {
 public:
  Secret() = default;
  explicit Secret(std::string value) : value_(std::move(value)) {}

  const std::string& Reveal() const { return value_; }
  bool empty() const { return value_.empty(); }
  std::string ToString() const { return "<secret>"; }

  friend bool operator==(const Secret&, const Secret&) = default;

 private:
  std::string value_;
};

inline std::ostream& operator<<(std::ostream& os, const Secret& secret) {
  return os << secret.ToString();
}

}  // namespace cloudaware_exporter

#endif  // CLOUDAWARE_EXPORTER_BASE_SECRET_H_
