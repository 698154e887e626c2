#include "exporter/app/discover.h"

#include <cctype>
#include <cstdint>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <utility>

#include "exporter/app/org_pipeline.h"
#include "exporter/base/file_util.h"
#include "exporter/cmdb/cmdb_client.h"
#include "exporter/metrics/self_metrics.h"

namespace cloudaware_exporter {
namespace {

// At most this many queries per object: a start to edit, not a full map.
constexpr size_t kMaxDimensions = 8;

// Names Cloudaware's own material shows (cmdb-api.md, the query packs).
const std::vector<std::string> kVerified = {
    "CA10__regionName__c", "CA10__stateName__c",    "CA10__status__c",
    "CA10__powerState__c", "CA10__locationName__c", "CA10__machineTypeName__c",
    "CA10__engine__c"};

// Lookups whose target's id field is known, so no describe of it is spent.
const std::map<std::string, std::string> kLookupIdField = {
    {"CA10__CaAwsAccount__c", "CA10__accountId__c"},
    {"CA10__CaAzureAccount__c", "CA10__subscriptionId__c"},  // subscriptions
    {"CA10__CaGoogleProject__c", "CA10__projectId__c"}};

const std::vector<std::string> kPatterns = {"region", "location", "state",
                                            "status", "type",     "size",
                                            "engine", "version"};

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(c));
  return s;
}

std::string Str(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

// "CA10__machineTypeName__c" -> "machine_type"; "caTag_owner__c" ->
// "tag_owner".
std::string LabelOf(const std::string& field) {
  std::string s = field;
  if (size_t p = s.find("__");
      p != std::string::npos && p + 2 < s.size() && s.compare(p, 3, "__c") != 0)
    s = s.substr(p + 2);
  if (s.size() > 3 && s.compare(s.size() - 3, 3, "__c") == 0)
    s.resize(s.size() - 3);
  if (s.rfind("caTag_", 0) == 0) s = "tag_" + s.substr(6);
  if (s.size() > 4 && s.compare(s.size() - 4, 4, "Name") == 0)
    s.resize(s.size() - 4);
  std::string out;
  for (char c : s) {
    if (std::isupper(static_cast<unsigned char>(c)) && !out.empty() &&
        out.back() != '_')
      out += '_';
    out += std::isalnum(static_cast<unsigned char>(c))
               ? static_cast<char>(std::tolower(c))
               : '_';
  }
  return out;
}

bool Groupable(const nlohmann::json& f) {
  auto g = f.find("groupable");
  return g != f.end() && g->is_boolean() && g->get<bool>();
}

class Picker {
 public:
  void Add(std::string field, std::string label, std::string why) {
    if (out_.size() >= kMaxDimensions || !labels_.insert(label).second) return;
    if (!fields_.insert(Lower(field)).second) return;
    out_.push_back({std::move(field), std::move(label), std::move(why)});
  }
  bool Has(const std::string& field) const {
    return fields_.count(Lower(field)) > 0;
  }
  std::vector<Dimension> Take() { return std::move(out_); }

 private:
  std::vector<Dimension> out_;
  std::set<std::string> labels_, fields_;
};

// A lookup to an account, subscription or project, as its target's id.
void PickLookup(const nlohmann::json& f, Picker& picker) {
  const std::string rel = Str(f, "relationshipName");
  auto targets = f.find("referenceTo");
  if (rel.empty() || targets == f.end() || !targets->is_array()) return;
  for (const auto& t : *targets) {
    if (!t.is_string()) continue;
    auto id = kLookupIdField.find(t.get<std::string>());
    if (id == kLookupIdField.end()) continue;
    picker.Add(rel + "." + id->second, "account",
               "describe: groupable lookup " + Str(f, "name") + " to " +
                   id->first + ", grouped by its " + id->second);
    return;
  }
}

void PickByPattern(const nlohmann::json& f, Picker& picker) {
  const std::string name = Str(f, "name"), type = Str(f, "type");
  if (type != "string" && type != "picklist" && type != "boolean") return;
  const std::string lower = Lower(name);
  for (const std::string& p : kPatterns) {
    if (lower.find(p) == std::string::npos) continue;
    picker.Add(name, LabelOf(name),
               "describe: groupable " + type + " matching pattern " + p);
    return;
  }
}

}  // namespace

bool IsCloudawareObject(const std::string& name) {
  static const std::regex re("^CA10[A-Za-z0-9]*__[A-Za-z0-9_]+__c$");
  return std::regex_match(name, re);
}

std::vector<Dimension> PickDimensions(const nlohmann::json& describe) {
  std::map<std::string, const nlohmann::json*> groupable;
  auto fields = describe.find("fields");
  if (fields == describe.end() || !fields->is_array()) return {};
  for (const auto& f : *fields) {
    if (f.is_object() && Groupable(f)) groupable[Lower(Str(f, "name"))] = &f;
  }
  Picker picker;
  for (const std::string& v : kVerified) {
    if (groupable.count(Lower(v)))
      picker.Add(v, LabelOf(v), "verified name (Cloudaware's own material)");
  }
  for (const auto& f : *fields) {
    if (!f.is_object() || !Groupable(f)) continue;
    if (Str(f, "type") == "reference") PickLookup(f, picker);
  }
  for (const auto& f : *fields) {
    if (f.is_object() && Groupable(f) && !picker.Has(Str(f, "name")))
      PickByPattern(f, picker);
  }
  for (const auto& f : *fields) {
    const std::string name = Str(f, "name");
    if (name.rfind("caTag_", 0) == 0 && Groupable(f))
      picker.Add(name, LabelOf(name), "tag field");
  }
  return picker.Take();
}

std::string CloudawareSection(const std::string& config_text) {
  std::istringstream in(config_text);
  std::string line, out;
  bool inside = false;
  static const std::regex secret(R"(^(\s+client_secret:\s*)(.*)$)");
  while (std::getline(in, line)) {
    const bool top = !line.empty() && line[0] != ' ' && line[0] != '#';
    if (top) {
      if (inside) break;
      inside = line.rfind("cloudaware:", 0) == 0;
    }
    if (!inside) continue;
    std::smatch m;
    if (std::regex_match(line, m, secret) &&
        m[2].str().find("${") == std::string::npos)
      line = m[1].str() + "${CLOUDAWARE_CLIENT_SECRET}  # was inline";
    out += line + "\n";
  }
  if (out.empty())
    throw ConfigError("--config.discover needs a top-level cloudaware: block");
  while (out.size() > 1 && out[out.size() - 2] == '\n') out.pop_back();
  return out;
}

namespace {

struct Found {
  std::string object;
  std::string live_filter;  // "" when the object has no disappearance time
  int64_t count = 0;
  std::vector<Dimension> dimensions;
};

std::string LiveFilter(const std::string& object, const nlohmann::json& d) {
  const std::string field =
      object.substr(0, object.find("__") + 2) + "disappearanceTime__c";
  for (const auto& f : d.value("fields", nlohmann::json::array())) {
    if (f.is_object() && Lower(Str(f, "name")) == Lower(field))
      return field + " = null";
  }
  return "";
}

// "CA10__CaAwsInstance__c" -> "aws_instance".
std::string ShortName(const std::string& object) {
  std::string s = LabelOf(object);
  return s.rfind("ca_", 0) == 0 ? s.substr(3) : s;
}

std::string Cloud(const std::string& object) {
  if (object.find("Aws") != std::string::npos) return "aws";
  if (object.find("Azure") != std::string::npos) return "azure";
  if (object.find("Google") != std::string::npos ||
      object.find("Gcp") != std::string::npos)
    return "gcp";
  return "other";
}

void WriteQuery(const Found& o, const Dimension& d, std::ostream& out) {
  const std::string name = ShortName(o.object) + "_by_" + d.label;
  std::string soql =
      "SELECT " + d.field + " " + d.label + ", COUNT(Id) n FROM " + o.object;
  if (!o.live_filter.empty()) soql += " WHERE " + o.live_filter;
  soql += " GROUP BY " + d.field + " LIMIT 2000";
  out << "  # " << d.field << ": " << d.why << "\n"
      << "  - name: " << name << "\n    interval: 10m\n    stale_after: 30m\n"
      << "    soql: >-\n      " << soql << "\n    metrics:\n"
      << "      - name: cloudaware_" << name << "\n"
      << "        help: " << o.object << " records"
      << (o.live_filter.empty() ? "" : " (deleted ones excluded)") << ", by "
      << d.label << ".\n        value: n\n        labels: [" << d.label
      << "]\n        const_labels: {cloud: " << Cloud(o.object) << "}\n";
}

bool WriteConfig(const std::string& section, const std::vector<Found>& found,
                 const std::string& out_path, std::ostream& log) {
  std::ostringstream out;
  out << "# A starting config from --config.discover: edit it, then check it\n"
         "# with --config.check.online.\n"
      << section << "\nqueries:\n";
  size_t queries = 0;
  for (const Found& o : found) {
    if (o.count == 0 || o.dimensions.empty()) continue;
    out << "  # " << o.object << ": " << o.count << " live records\n";
    for (const Dimension& d : o.dimensions) WriteQuery(o, d, out);
    queries += o.dimensions.size();
  }
  if (queries == 0) {
    log << "discover: no non-empty object with a field to group by; nothing "
           "written (a larger --discover.max-calls looks at more objects)\n";
    return false;
  }
  std::ofstream file(out_path);
  file << out.str();
  file.close();
  if (!file) {
    log << "cannot write " << out_path << "\n";
    return false;
  }
  log << "wrote " << queries << " queries to " << out_path << "\n";
  return true;
}

// Describes and counts one object: two API calls.
Found Survey(CmdbClient& client, const std::string& object) {
  Found o;
  o.object = object;
  const nlohmann::json d = client.Describe(object);
  o.live_filter = LiveFilter(object, d);
  std::string soql = "SELECT COUNT() FROM " + object;
  if (!o.live_filter.empty()) soql += " WHERE " + o.live_filter;
  o.count = client.Query(soql).total_size;
  if (o.count > 0) o.dimensions = PickDimensions(d);
  return o;
}

std::vector<std::string> Plan(std::vector<std::string> objects,
                              size_t max_calls, std::ostream& log) {
  const size_t fit = max_calls > 1 ? (max_calls - 1) / 2 : 0;
  log << "discover: " << objects.size() << " Cloudaware objects; at most "
      << 1 + 2 * objects.size() << " API calls (1 describe global, then a "
      << "describe and a count per object), budget " << max_calls << "\n";
  if (objects.size() > fit) {
    log << "discover: over budget, skipping " << objects.size() - fit << ":";
    for (size_t i = fit; i < objects.size(); ++i) log << " " << objects[i];
    log << "\n";
    objects.resize(fit);
  }
  log << "discover: will spend at most " << 1 + 2 * objects.size()
      << " API calls\n";
  return objects;
}

}  // namespace

bool Discover(const CloudawareConfig& cloudaware,
              const std::string& source_path, const std::string& out_path,
              size_t max_calls, std::ostream& log) {
  std::string text, section;
  if (auto err = ReadFile(source_path, 16 << 20, &text)) {
    log << "cannot read " << source_path << ": " << *err << "\n";
    return false;
  }
  if (max_calls < 1) {
    log << "--discover.max-calls must be at least 1\n";
    return false;
  }
  SelfMetrics metrics(CLOUDAWARE_VERSION, CLOUDAWARE_REVISION);
  OrgConnection api(cloudaware, metrics);
  std::vector<Found> found;
  try {
    section = CloudawareSection(text);
    std::vector<std::string> objects;
    for (std::string& n : api.client.DescribeGlobal()) {
      if (IsCloudawareObject(n)) objects.push_back(std::move(n));
    }
    for (const std::string& o : Plan(objects, max_calls, log)) {
      found.push_back(Survey(api.client, o));
      log << "discover: " << o << ": " << found.back().count
          << " live records\n";
    }
  } catch (const std::exception& e) {
    log << "discover failed: " << e.what() << "\n";
    return false;
  }
  return WriteConfig(section, found, out_path, log);
}

}  // namespace cloudaware_exporter
