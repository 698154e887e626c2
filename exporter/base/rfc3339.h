// Times as Prometheus components write them: RFC 3339 in UTC, e.g.
// 2026-12-02T09:46:26.250Z. Used by the log, the status JSON and the
// landing page, so that one moment reads the same in all three.
#ifndef CLOUDAWARE_EXPORTER_RFC3339_H_
#define CLOUDAWARE_EXPORTER_RFC3339_H_

#include <chrono>
#include <string>

namespace cloudaware_exporter {

enum class Precision { kSeconds, kMilliseconds };

// t in UTC, cut (not rounded) to the precision, so that a time never reads
// as later than it was.
std::string FormatRfc3339(std::chrono::system_clock::time_point t,
                          Precision precision = Precision::kMilliseconds);

}  // namespace cloudaware_exporter

#endif  // CLOUDAWARE_EXPORTER_RFC3339_H_
