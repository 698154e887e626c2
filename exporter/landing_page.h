// The HTML of "/": version, links, and the table of queries.
#ifndef CLOUDAWARE_EXPORTER_LANDING_PAGE_H_
#define CLOUDAWARE_EXPORTER_LANDING_PAGE_H_

#include <string>
#include <vector>

#include "exporter/poller.h"

namespace cloudaware_exporter {

std::string HtmlEscape(const std::string& s);

std::string RenderLandingPage(const std::string& version,
                              const std::string& telemetry_path,
                              const std::vector<Poller::QueryStatus>& queries);

}  // namespace cloudaware_exporter

#endif  // CLOUDAWARE_EXPORTER_LANDING_PAGE_H_
