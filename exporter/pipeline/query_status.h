// A query's last runs, as the poller saw them: what /status and the landing
// page show.
#ifndef CLOUDAWARE_EXPORTER_PIPELINE_QUERY_STATUS_H_
#define CLOUDAWARE_EXPORTER_PIPELINE_QUERY_STATUS_H_

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>

namespace cloudaware_exporter {

struct QueryStatus {
  using WallTime = std::chrono::system_clock::time_point;
  std::string name;
  std::chrono::milliseconds interval{0};
  std::optional<WallTime> last_run;
  std::optional<WallTime> last_success;
  WallTime next_run;
  double duration_seconds = 0;
  size_t rows = 0;
  size_t series = 0;
  bool success = false;
  bool running = false;
  std::string
      last_error;  // code and message of the last failure, "" after a success
};

}  // namespace cloudaware_exporter

#endif  // CLOUDAWARE_EXPORTER_PIPELINE_QUERY_STATUS_H_
