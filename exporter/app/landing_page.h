// The HTML of "/": version, links, and the table of queries.
#ifndef CLOUDAWARE_EXPORTER_LANDING_PAGE_H_
#define CLOUDAWARE_EXPORTER_LANDING_PAGE_H_

#include <chrono>
#include <string>
#include <vector>

#include "exporter/pipeline/query_status.h"

namespace cloudaware_exporter {

std::string HtmlEscape(const std::string& s);

// "4m 10s", "2h 5m", "3d 4h": the two largest units, for times relative to
// now; "0s" for less than a second.
std::string FormatSpan(std::chrono::seconds d);

// Times appear in UTC ISO 8601 and relative to now.
std::string RenderLandingPage(
    const std::string& version, const std::string& telemetry_path,
    const std::vector<QueryStatus>& queries,
    QueryStatus::WallTime now = std::chrono::system_clock::now());

}  // namespace cloudaware_exporter

#endif  // CLOUDAWARE_EXPORTER_LANDING_PAGE_H_
