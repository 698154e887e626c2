// The HTML of "/": version, links, a summary per org (API up, token state
// and age, API usage) and the table of queries, failing and pending ones
// marked.
#ifndef CLOUDAWARE_EXPORTER_LANDING_PAGE_H_
#define CLOUDAWARE_EXPORTER_LANDING_PAGE_H_

#include <chrono>
#include <string>
#include <vector>

#include "exporter/cmdb/api_status.h"
#include "exporter/pipeline/query_status.h"

namespace cloudaware_exporter {

std::string HtmlEscape(const std::string& s);

// "4m 10s", "2h 5m", "3d 4h": the two largest units, for times relative to
// now; "0s" for less than a second.
std::string FormatSpan(std::chrono::seconds d);

// One org at a glance. The name is "" for the single org of a config
// without a list of orgs.
struct OrgSummary {
  std::string name;
  bool api_up = false;  // cloudaware_up
  TokenStatus token;
  ApiBudget api;
  std::vector<QueryStatus> queries;
};

// Times appear in UTC ISO 8601 and relative to now. Query names carry
// their org as CollectorKey() writes it.
std::string RenderLandingPage(
    const std::string& version, const std::string& telemetry_path,
    const std::vector<OrgSummary>& orgs,
    QueryStatus::WallTime now = std::chrono::system_clock::now());

// The queries alone, without the summary.
std::string RenderLandingPage(
    const std::string& version, const std::string& telemetry_path,
    const std::vector<QueryStatus>& queries,
    QueryStatus::WallTime now = std::chrono::system_clock::now());

}  // namespace cloudaware_exporter

#endif  // CLOUDAWARE_EXPORTER_LANDING_PAGE_H_
