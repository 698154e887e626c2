// --config.discover: writes a starting config for the org of a loaded
// config. It lists the org's objects (Describe Global), keeps the Cloudaware
// namespaces (CA10__, CA10A1__, CA10Z1__ ...), describes and counts each
// one within a call budget, and writes one COUNT(Id) ... GROUP BY query per
// picked field of every non-empty object.
#ifndef CLOUDAWARE_EXPORTER_APP_DISCOVER_H_
#define CLOUDAWARE_EXPORTER_APP_DISCOVER_H_

#include <cstddef>
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <vector>

#include "exporter/config/config.h"

namespace cloudaware_exporter {

// True for CA10<letters or digits>__<name>__c.
bool IsCloudawareObject(const std::string& name);

// One GROUP BY dimension of an object.
struct Dimension {
  std::string field;  // the SOQL path, e.g. CA10__account__r.CA10__accountId__c
  std::string label;  // label and metric-name suffix, e.g. account
  std::string why;    // written as the query's comment
};

// The dimensions to group an object by, from its describe answer: verified
// names first, then groupable text, picklist, boolean and lookup fields whose
// names match a pattern, then tag fields (caTag_<tag>__c). Labels are unique.
std::vector<Dimension> PickDimensions(const nlohmann::json& describe);

// The top-level cloudaware: block of a config file's text, as written (so
// ${VAR} references stay), with an inline client_secret value replaced by
// ${CLOUDAWARE_CLIENT_SECRET}. Throws ConfigError when there is none.
std::string CloudawareSection(const std::string& config_text);

// Discovers the org of cloudaware and writes the config to out_path, with
// the cloudaware block taken from source_path. Progress, the planned call
// count and skipped objects go to log. At most max_calls API calls. True
// when the file was written.
bool Discover(const CloudawareConfig& cloudaware,
              const std::string& source_path, const std::string& out_path,
              size_t max_calls, std::ostream& log);

}  // namespace cloudaware_exporter

#endif  // CLOUDAWARE_EXPORTER_APP_DISCOVER_H_
