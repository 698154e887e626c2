// The JSON of /status: build information, the effective config with its
// secrets redacted, and for each Cloudaware org the token's state, the API
// budget and every query's last run. A pure function of snapshots that main
// takes from the Poller, TokenSource and CmdbClient of each org; the web
// server calls it through WebHandlers::status on its own threads.
#ifndef CLOUDAWARE_EXPORTER_STATUS_JSON_H_
#define CLOUDAWARE_EXPORTER_STATUS_JSON_H_

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "exporter/cmdb/api_status.h"
#include "exporter/pipeline/query_status.h"

namespace cloudaware_exporter {

// One org's pipeline. The name is "" for the single org of a config
// without a list of orgs.
struct OrgStatus {
  std::string name;
  std::string url;
  TokenStatus token;
  ApiBudget api;
  bool ready = false;
  std::vector<QueryStatus> queries;
};

struct ExporterStatus {
  std::string version;
  std::string revision;
  std::chrono::system_clock::time_point start_time;
  std::string config_file;
  std::string config_yaml;  // RedactedYaml() of the config in effect
  std::vector<OrgStatus> orgs;
};

// Times are RFC 3339 strings, or null for what has never happened. Keys come
// in the README's order (ordered_json), which reads better than sorted.
nlohmann::ordered_json StatusJson(const ExporterStatus& status);

}  // namespace cloudaware_exporter

#endif  // CLOUDAWARE_EXPORTER_STATUS_JSON_H_
