// The one exception type of the API layer, shared by the HTTP client, the
// token source, the query client and the parsers of what they read.
#ifndef CLOUDAWARE_EXPORTER_CMDB_API_ERROR_H_
#define CLOUDAWARE_EXPORTER_CMDB_API_ERROR_H_

#include <stdexcept>
#include <string>
#include <utility>

namespace cloudaware_exporter {

// Why a query failed. code is what cloudaware_query_errors_total's `error`
// label shows: the API errorCode (MALFORMED_QUERY, INVALID_FIELD, ...), or
// network, timeout, parse, http_<status>, truncated, auth.
class CmdbError : public std::runtime_error {
 public:
  CmdbError(std::string code, const std::string& message, int status = 0)
      : std::runtime_error(message), code_(std::move(code)), status_(status) {}
  const std::string& code() const { return code_; }
  int status() const { return status_; }

 private:
  std::string code_;
  int status_;
};

}  // namespace cloudaware_exporter

#endif  // CLOUDAWARE_EXPORTER_CMDB_API_ERROR_H_
