#include "exporter/app/online_check.h"

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>

#include "exporter/app/org_pipeline.h"
#include "exporter/base/text.h"
#include "exporter/cmdb/cmdb_client.h"
#include "exporter/cmdb/http_client.h"
#include "exporter/cmdb/token_source.h"
#include "exporter/config/soql_refs.h"
#include "exporter/metrics/self_metrics.h"
#include "exporter/pipeline/samples.h"

namespace cloudaware_exporter {
namespace {

struct FieldInfo {
  std::string name;
  std::string type;
  bool groupable = true;
  std::string relationship_name;
  std::vector<std::string> reference_to;
};

// An object's describe answer, or why there is none.
struct Described {
  std::string name;
  std::vector<FieldInfo> fields;
  std::string error;
};

std::string StringOr(const nlohmann::json& doc, const char* key,
                     std::string fallback) {
  auto it = doc.find(key);
  return it != doc.end() && it->is_string() ? it->get<std::string>()
                                            : std::move(fallback);
}

Described ReadDescribe(const nlohmann::json& doc, const std::string& object) {
  Described d;
  d.name = StringOr(doc, "name", object);
  auto fields = doc.find("fields");
  if (fields == doc.end() || !fields->is_array()) {
    d.error = "the describe answer for " + object + " has no fields list";
    return d;
  }
  for (const auto& f : *fields) {
    if (!f.is_object() || !f.contains("name") || !f["name"].is_string())
      continue;
    FieldInfo info;
    info.name = f["name"].get<std::string>();
    info.type = StringOr(f, "type", "unknown");
    // Absent means unknown: the API is left to refuse it.
    if (f.contains("groupable") && f["groupable"].is_boolean())
      info.groupable = f["groupable"].get<bool>();
    info.relationship_name = StringOr(f, "relationshipName", "");
    if (f.contains("referenceTo") && f["referenceTo"].is_array()) {
      for (const auto& r : f["referenceTo"]) {
        if (r.is_string()) info.reference_to.push_back(r.get<std::string>());
      }
    }
    d.fields.push_back(std::move(info));
  }
  return d;
}

std::string Lower(std::string s) {
  for (char& c : s) c = AsciiLower(c);
  return s;
}

// API messages carry a caret line under the query; a report line must not.
std::string OneLine(std::string s) {
  for (char& c : s) {
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  }
  return s;
}

// Each object is described once, whatever the answer.
class Describer {
 public:
  explicit Describer(CmdbClient& client) : client_(client) {}

  const Described& Get(const std::string& object) {
    auto [it, added] = cache_.try_emplace(Lower(object));
    if (!added) return it->second;
    try {
      it->second = ReadDescribe(client_.Describe(object), object);
    } catch (const CmdbError& e) {
      it->second.name = object;
      it->second.error =
          e.status() == 404
              ? "unknown object " + object
              : "describe " + object + " failed: " + OneLine(e.what());
    }
    return it->second;
  }

  // "" when the field path exists from object on (and is groupable when it
  // must be), else what is wrong.
  std::string Resolve(const std::string& object, const SoqlField& field) {
    std::vector<std::string> names;
    size_t start = 0;
    for (size_t dot; (dot = field.path.find('.', start)) != std::string::npos;
         start = dot + 1) {
      names.push_back(field.path.substr(start, dot - start));
    }
    names.push_back(field.path.substr(start));
    return Resolve(object, names, 0, field);
  }

 private:
  std::string Resolve(const std::string& object,
                      const std::vector<std::string>& names, size_t i,
                      const SoqlField& field) {
    const Described& d = Get(object);
    if (!d.error.empty()) return d.error;
    const std::string in =
        names.size() > 1 ? " (in " + field.path + ")" : std::string();
    if (i + 1 == names.size()) {
      for (const FieldInfo& f : d.fields) {
        if (!EqualsIgnoreCase(f.name, names[i])) continue;
        if (field.grouped && !f.groupable) {
          return "GROUP BY " + field.path + ": field " + f.name + " of " +
                 d.name + " has type " + f.type + ", which is not groupable";
        }
        return "";
      }
      return "unknown field " + names[i] + " on " + d.name + in;
    }
    for (const FieldInfo& f : d.fields) {
      if (f.relationship_name.empty() ||
          !EqualsIgnoreCase(f.relationship_name, names[i])) {
        continue;
      }
      if (f.reference_to.empty())
        return "relationship " + names[i] + " of " + d.name +
               " names no object";
      // A polymorphic lookup (Owner: User or Group): any target will do.
      std::string first;
      for (const std::string& target : f.reference_to) {
        std::string problem = Resolve(target, names, i + 1, field);
        if (problem.empty()) return "";
        if (first.empty()) first = problem;
      }
      return first;
    }
    return "unknown relationship " + names[i] + " on " + d.name + in;
  }

  CmdbClient& client_;
  std::map<std::string, Described> cache_;
};

// Problems with the object and fields of refs and of its subqueries.
void CheckRefs(const SoqlRefs& refs, Describer& describer,
               std::vector<std::string>& problems, size_t& grouped) {
  const Described& d = describer.Get(refs.object);
  if (!d.error.empty()) {
    problems.push_back(d.error);
    return;
  }
  for (const SoqlField& f : refs.fields) {
    std::string problem = describer.Resolve(refs.object, f);
    if (!problem.empty()) problems.push_back(std::move(problem));
    grouped += f.grouped;
  }
  for (const SoqlRefs& sub : refs.subqueries)
    CheckRefs(sub, describer, problems, grouped);
}

std::string Plural(size_t n, const std::string& word,
                   const std::string& words = "") {
  return std::to_string(n) + " " +
         (n == 1          ? word
          : words.empty() ? word + "s"
                          : words);
}

std::string Join(const std::vector<std::string>& parts) {
  std::string out;
  for (const std::string& p : parts) out += (out.empty() ? "" : "; ") + p;
  return out;
}

// "OK ..." or "FAIL ...", without the newline.
std::string CheckQuery(size_t i, const QueryConfig& query,
                       size_t max_label_value_length, CmdbClient& client,
                       Describer& describer) {
  const std::string where = "queries[" + std::to_string(i) + "]";
  auto fail = [&](const std::vector<std::string>& problems) {
    return "FAIL " + query.name + ": " + Join(problems);
  };
  SoqlRefs refs;
  try {
    refs = ParseSoqlRefs(query.soql);
  } catch (const SoqlError& e) {
    return fail({where + ".soql: cannot read the query " + e.what()});
  }

  std::vector<std::string> problems;
  size_t grouped = 0;
  CheckRefs(refs, describer, problems, grouped);
  // A query naming what does not exist would only be refused: spare the call.
  if (!problems.empty()) {
    for (std::string& p : problems) {
      if (p.rfind(where, 0) != 0) p = where + ".soql: " + p;
    }
    return fail(problems);
  }

  QueryResult result;
  try {
    result = client.Query(WithLimit(query.soql, refs, 1));
  } catch (const CmdbError& e) {
    return fail({where + ".soql: running it with LIMIT 1 failed: " +
                 OneLine(e.what())});
  }
  try {
    ToFamilies(query, result, max_label_value_length);
  } catch (const CmdbError& e) {
    return fail({where + ".metrics: " + OneLine(e.what())});
  }
  const size_t rows = refs.count_only ? static_cast<size_t>(result.total_size)
                                      : result.records.size();
  std::string line = "OK " + query.name + ": " + refs.object + " and " +
                     Plural(refs.fields.size(), "field") + " exist";
  if (grouped > 0)
    line += ", " + Plural(grouped, "GROUP BY field") + " groupable";
  line += "; with LIMIT 1 it ran and " +
          (refs.count_only ? "counted " + std::to_string(rows)
                           : "gave " + Plural(rows, "row")) +
          ", mapped onto " + Plural(query.metrics.size(), "metric");
  return line;
}

}  // namespace

bool CheckOnline(const CloudawareConfig& cloudaware,
                 const std::vector<QueryConfig>& queries,
                 size_t max_label_value_length, std::ostream& out) {
  SelfMetrics metrics(CLOUDAWARE_VERSION, CLOUDAWARE_REVISION);
  OrgConnection api(cloudaware, metrics);
  TokenSource& tokens = api.tokens;
  CmdbClient& client = api.client;

  try {
    tokens.Get();
  } catch (const CmdbError& e) {
    out << "FAIL token: " << OneLine(e.what());
    const auto failure = tokens.Status().last_failure;
    if (failure && !failure->hint.empty()) {
      out << " (hint: " << failure->hint << ")";
    }
    out << "\nonline check of " << cloudaware.url << ": no token, "
        << Plural(queries.size(), "query", "queries") << " not checked\n";
    out.flush();
    return false;
  }

  Describer describer(client);
  size_t ok = 0;
  for (size_t i = 0; i < queries.size(); ++i) {
    std::string line =
        CheckQuery(i, queries[i], max_label_value_length, client, describer);
    ok += line.rfind("OK ", 0) == 0;
    out << line << "\n";
    out.flush();
  }
  out << "online check of " << cloudaware.url << ": " << ok << " of "
      << Plural(queries.size(), "query", "queries") << " OK\n";
  out.flush();
  return ok == queries.size();
}

}  // namespace cloudaware_exporter
