#include "exporter/base/rfc3339.h"

#include <cstdio>
#include <ctime>

namespace cloudaware_exporter {

std::string FormatRfc3339(std::chrono::system_clock::time_point t,
                          Precision precision) {
  const auto ms = std::chrono::floor<std::chrono::milliseconds>(t);
  const std::time_t secs = std::chrono::system_clock::to_time_t(
      std::chrono::floor<std::chrono::seconds>(ms));
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char date[32];
  std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
  if (precision == Precision::kSeconds) return std::string(date) + "Z";
  const auto millis = (ms.time_since_epoch() % std::chrono::seconds(1)).count();
  char out[48];
  std::snprintf(out, sizeof out, "%s.%03dZ", date, static_cast<int>(millis));
  return out;
}

}  // namespace cloudaware_exporter
