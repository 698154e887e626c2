// The standard process_* metrics, read from /proc/self on each call, as the
// Prometheus client libraries export them. prometheus-cpp has none.
#ifndef CLOUDAWARE_EXPORTER_PROCESS_METRICS_H_
#define CLOUDAWARE_EXPORTER_PROCESS_METRICS_H_

#include <prometheus/metric_family.h>

#include <vector>

namespace cloudaware_exporter {

// process_cpu_seconds_total, process_resident_memory_bytes,
// process_virtual_memory_bytes, process_open_fds, process_max_fds,
// process_start_time_seconds. Families it cannot read are left out.
std::vector<prometheus::MetricFamily> CollectProcessMetrics();

}  // namespace cloudaware_exporter

#endif  // CLOUDAWARE_EXPORTER_PROCESS_METRICS_H_
