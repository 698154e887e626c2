// Durations as Prometheus writes them: "500ms", "30s", "5m", "1h", "2h30m",
// "1d". Used by the config and by the CMDB simulator's flags.
#ifndef CLOUDAWARE_EXPORTER_DURATION_H_
#define CLOUDAWARE_EXPORTER_DURATION_H_

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace cloudaware_exporter {

// Units ms, s, m, h, d, largest first, each at most once; nullopt otherwise.
std::optional<std::chrono::milliseconds> ParseDuration(std::string_view text);

// The shortest form ParseDuration reads back: 90000ms -> "1m30s".
std::string FormatDuration(std::chrono::milliseconds d);

}  // namespace cloudaware_exporter

#endif  // CLOUDAWARE_EXPORTER_DURATION_H_
