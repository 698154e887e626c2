#include "exporter/base/metric_names.h"

namespace cloudaware_exporter {

bool IsSelfMetricName(std::string_view name) {
  for (const MetricName& metric : self_metric::kAll) {
    if (name == metric.name) return true;
    if (metric.type != MetricType::kHistogram ||
        !name.starts_with(metric.name)) {
      continue;
    }
    std::string_view suffix = name.substr(metric.name.size());
    if (suffix == "_bucket" || suffix == "_sum" || suffix == "_count") {
      return true;
    }
  }
  return false;
}

}  // namespace cloudaware_exporter
