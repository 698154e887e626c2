#include "exporter/metrics/process_metrics.h"

#include <unistd.h>

#include <cstdint>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace cloudaware_exporter {
namespace {

std::optional<std::string> ReadFile(const char* path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  return std::string(std::istreambuf_iterator<char>(in), {});
}

prometheus::MetricFamily Single(const char* name, const char* help,
                                prometheus::MetricType type, double value) {
  prometheus::MetricFamily family;
  family.name = name;
  family.help = help;
  family.type = type;
  prometheus::ClientMetric metric;
  if (type == prometheus::MetricType::Counter) {
    metric.counter.value = value;
  } else {
    metric.gauge.value = value;
  }
  family.metric.push_back(metric);
  return family;
}

std::optional<double> BootTimeSeconds() {
  const auto stat = ReadFile("/proc/stat");
  if (!stat) return std::nullopt;
  std::istringstream in(*stat);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("btime ", 0) == 0) return std::stod(line.substr(6));
  }
  return std::nullopt;
}

// The soft limit; "unlimited" becomes 2^64-1, as the Go client reports it.
std::optional<double> MaxOpenFiles() {
  const auto limits = ReadFile("/proc/self/limits");
  if (!limits) return std::nullopt;
  std::istringstream in(*limits);
  std::string line;
  constexpr std::string_view kPrefix = "Max open files";
  while (std::getline(in, line)) {
    if (line.rfind(kPrefix, 0) != 0) continue;
    std::istringstream fields(line.substr(kPrefix.size()));
    std::string soft;
    fields >> soft;
    if (soft == "unlimited") {
      return static_cast<double>(std::numeric_limits<uint64_t>::max());
    }
    return std::stod(soft);
  }
  return std::nullopt;
}

void AppendStatMetrics(std::vector<prometheus::MetricFamily>& out) {
  const auto stat = ReadFile("/proc/self/stat");
  if (!stat) return;
  // The second field is the command name in parentheses, which may itself
  // hold spaces and ')'; the fields after the last ')' are plain numbers.
  const size_t paren = stat->rfind(')');
  if (paren == std::string::npos) return;
  std::istringstream in(stat->substr(paren + 1));
  std::vector<std::string> fields{std::istream_iterator<std::string>(in), {}};
  // fields[0] is field 3 of proc(5), "state".
  auto field = [&](size_t number) { return std::stod(fields.at(number - 3)); };
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(sysconf(_SC_PAGESIZE));

  out.push_back(Single("process_cpu_seconds_total",
                       "Total user and system CPU time spent in seconds.",
                       prometheus::MetricType::Counter,
                       (field(14) + field(15)) / ticks));
  out.push_back(Single("process_virtual_memory_bytes",
                       "Virtual memory size in bytes.",
                       prometheus::MetricType::Gauge, field(23)));
  out.push_back(Single("process_resident_memory_bytes",
                       "Resident memory size in bytes.",
                       prometheus::MetricType::Gauge, field(24) * page));
  if (const auto boot = BootTimeSeconds()) {
    out.push_back(
        Single("process_start_time_seconds",
               "Start time of the process since unix epoch in seconds.",
               prometheus::MetricType::Gauge, *boot + field(22) / ticks));
  }
}

void AppendFdMetrics(std::vector<prometheus::MetricFamily>& out) {
  std::error_code ec;
  std::filesystem::directory_iterator it("/proc/self/fd", ec);
  if (!ec) {
    double open = 0;
    for (; it != std::filesystem::directory_iterator(); it.increment(ec)) {
      if (ec) break;
      ++open;
    }
    if (!ec) {
      out.push_back(Single("process_open_fds",
                           "Number of open file descriptors.",
                           prometheus::MetricType::Gauge, open));
    }
  }
  if (const auto max = MaxOpenFiles()) {
    out.push_back(Single("process_max_fds",
                         "Maximum number of open file descriptors.",
                         prometheus::MetricType::Gauge, *max));
  }
}

}  // namespace

std::vector<prometheus::MetricFamily> CollectProcessMetrics() {
  std::vector<prometheus::MetricFamily> out;
  // A kernel that formats these files differently must not break the
  // scrape: whatever failed to parse is left out.
  try {
    AppendStatMetrics(out);
  } catch (const std::exception&) {
  }
  try {
    AppendFdMetrics(out);
  } catch (const std::exception&) {
  }
  return out;
}

}  // namespace cloudaware_exporter
