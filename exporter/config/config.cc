#include "exporter/config/config.h"

#include <glob.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <initializer_list>
#include <map>

#include "exporter/base/duration.h"
#include "exporter/base/file_util.h"
#include "exporter/base/metric_names.h"
#include "exporter/base/text.h"
#include "exporter/config/config_settings.h"
#include "exporter/config/settings.h"
#include "exporter/config/soql_refs.h"
#include "exporter/config/yaml_reader.h"

namespace cloudaware_exporter {
namespace {

using std::chrono::milliseconds;

// A secret file is a few dozen bytes; the limit stops a mistaken path such
// as /dev/zero from hanging the exporter.
constexpr size_t kMaxSecretBytes = 64 << 10;

bool IsName(std::string_view s, bool allow_colon) {
  auto first = [&](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
           (allow_colon && c == ':');
  };
  if (s.empty() || !first(s[0])) return false;
  return std::all_of(s.begin() + 1, s.end(), [&](char c) {
    return first(c) || (c >= '0' && c <= '9');
  });
}

bool IsUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80         ? 1
               : (c >> 5) == 6  ? 2
               : (c >> 4) == 14 ? 3
               : (c >> 3) == 30 ? 4
                                : 0;
    if (n == 0 || i + n > s.size()) return false;
    uint32_t cp = n == 1 ? c : c & (0x7f >> n);
    for (size_t k = 1; k < n; ++k) {
      auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    // Overlong forms, surrogates and code points past U+10FFFF.
    if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) ||
        (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
        (cp >= 0xd800 && cp <= 0xdfff)) {
      return false;
    }
    i += n;
  }
  return true;
}

class Parser : public YamlReader {
 public:
  Parser(const std::string& file, const EnvLookup& env)
      : YamlReader(file), env_(env), config_file_(file) {}

  Config Parse(std::string_view yaml);

 private:
  [[noreturn]] void Throw(std::string message) const override;

  // Also expands ${VAR} and checks that the result is UTF-8.
  std::string String(const Item& item) const override;
  std::string ExpandEnv(const Item& item, const std::string& in) const;

  CloudawareConfig ParseCloudaware(const Item& item);
  // cloudaware.url, which must be the org's My Domain.
  std::string OrgUrl(const Item& url) const;
  void ParseSecret(const Mapping& m, CloudawareConfig& c);
  // An org's queries: `queries` inline, then those of `query_files`.
  void ParseQueries(const Mapping& m, const Config& config, OrgConfig& org);
  void ParseQueryFile(const Item& at, const std::string& path,
                      const Config& config, OrgConfig& org);
  OrgConfig ParseOrg(const Mapping& m, const Config& config);
  void ParseOrgs(const Mapping& top, const Item& orgs, Config& config);
  QueryConfig ParseQuery(const Item& item, const Config& config);
  void CheckStaleAfter(const Item& query, const Mapping& m,
                       const QueryConfig& q) const;
  void ParseMetrics(const Item& metrics, QueryConfig& q);
  // refs: what the query's SOQL names, if it could be read.
  MetricConfig ParseMetric(const Item& item, const QueryConfig& query,
                           const SoqlRefs* refs);
  std::string MetricName(const Item& metric, const Item& name);
  void ParseValue(const Item& v, const SoqlRefs* refs,
                  MetricConfig& metric) const;
  // `paths`: the metric's label names so far -> where they were defined.
  void AddLabel(const Item& at, const std::string& label,
                std::map<std::string, std::string>& paths) const;
  void ParseLabels(const Item& labels, const SoqlRefs* refs,
                   std::map<std::string, std::string>& paths,
                   MetricConfig& metric) const;
  void NeedsValue(const Item& v, const MetricConfig& metric) const;
  void ParseExpected(const Item& v, const QueryConfig& query,
                     MetricConfig& metric) const;
  void CheckLabelled(const Item& key, const std::string& label,
                     const MetricConfig& metric) const;
  std::vector<std::string> ExpectedList(const Item& list) const;
  void ParseKeepSeenFor(const Item& v, const QueryConfig& query,
                        MetricConfig& metric) const;
  void CheckColumn(const Item& at, const SoqlRefs* refs,
                   const std::string& column, const std::string& label) const;
  std::string LabelName(const Item& item, const std::string& name,
                        std::string_view hint = "") const;

  const EnvLookup& env_;
  // Scrubbed from every message, in case the secret also reached another
  // field through an alias or a shared environment variable.
  std::vector<std::string> secrets_;
  // Per org: names -> where they were defined, for duplicate errors.
  std::map<std::string, std::string> query_paths_;
  std::map<std::string, std::string> metric_paths_;
  // With an orgs list, the `org` label is the exporter's.
  bool several_orgs_ = false;
  const std::string config_file_;
};

// Where an item is, for "also at" in duplicate errors: its path, after its
// file name when it is not in the config file itself.
std::string Where(const std::string& file, const std::string& config_file,
                  const std::string& path) {
  return file == config_file ? path : file + ": " + path;
}

bool IsOrgName(std::string_view s) {
  return !s.empty() && s.size() <= 64 && s[0] != '.' && s[0] != '-' &&
         std::all_of(s.begin(), s.end(), [](char c) {
           return std::isalnum(static_cast<unsigned char>(c)) || c == '_' ||
                  c == '-' || c == '.';
         });
}

// The files a query_files entry names: itself, or what a glob pattern
// matches, sorted.
std::vector<std::string> Glob(const std::string& pattern) {
  if (pattern.find_first_of("*?[") == std::string::npos) return {pattern};
  glob_t g{};
  std::vector<std::string> paths;
  if (glob(pattern.c_str(), 0, nullptr, &g) == 0) {
    for (size_t i = 0; i < g.gl_pathc; ++i) paths.emplace_back(g.gl_pathv[i]);
  }
  globfree(&g);
  return paths;
}

void Parser::Throw(std::string message) const {
  const std::string redacted = Secret().ToString();
  for (const auto& secret : secrets_) {
    if (secret.empty()) continue;
    for (size_t at = message.find(secret); at != std::string::npos;
         at = message.find(secret, at + redacted.size())) {
      message.replace(at, secret.size(), redacted);
    }
  }
  throw ConfigError(message);
}

std::string Parser::String(const Item& item) const {
  std::string s = ExpandEnv(item, YamlReader::String(item));
  // yaml-cpp passes bytes through; metric text and the dump need UTF-8.
  if (!IsUtf8(s)) Fail(item, "must be UTF-8 text");
  return s;
}

// Messages here never quote the text itself: it may be the client secret.
std::string Parser::ExpandEnv(const Item& item, const std::string& in) const {
  std::string out;
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '$' || i + 1 == in.size()) {
      out += in[i];
    } else if (in[i + 1] == '$') {
      out += '$';
      ++i;
    } else if (in[i + 1] == '{') {
      size_t end = in.find('}', i + 2);
      if (end == std::string::npos) {
        Fail(item, "'${' without a closing '}' (write $$ for a literal $)");
      }
      std::string name = in.substr(i + 2, end - i - 2);
      if (!IsName(name, false)) {
        Fail(item,
             "'${...}' must hold an environment variable name such as "
             "${CLOUDAWARE_CLIENT_ID} (write $$ for a literal $)");
      }
      std::optional<std::string> value = env_(name);
      if (!value) Fail(item, "environment variable " + name + " is not set");
      out += *value;
      i = end;
    } else {
      out += '$';
    }
  }
  return out;
}

Config Parser::Parse(std::string_view yaml) {
  YAML::Node root = LoadDocument(std::string(yaml));
  if (root.IsNull()) {
    Fail(YAML::Mark::null_mark(), "",
         "the config is empty; it needs at least cloudaware and queries");
  }
  Mapping top = Map({root, ""}, Keys(TopSettings()),
                    "a mapping with the keys " + KeyList(TopSettings()));
  Config config;
  config.file = file();
  // Before the queries, which take their defaults from it.
  if (auto defaults = top.Get("defaults")) {
    ReadSection(*this, *defaults, DefaultsSettings(), config);
  }
  if (auto orgs = top.Get("orgs")) {
    ParseOrgs(top, *orgs, config);
  } else {
    config.orgs.push_back(ParseOrg(top, config));
  }
  return config;
}

OrgConfig Parser::ParseOrg(const Mapping& m, const Config& config) {
  OrgConfig org;
  org.cloudaware = ParseCloudaware(Required(m, "cloudaware"));
  ParseQueries(m, config, org);
  return org;
}

void Parser::ParseOrgs(const Mapping& top, const Item& orgs, Config& config) {
  for (const char* key : {"cloudaware", "queries", "query_files"}) {
    if (auto v = top.Get(key)) {
      Fail(*v, std::string("with orgs, each org has its own ") + key +
                   "; move it into the entries of orgs");
    }
  }
  several_orgs_ = true;
  std::vector<Item> items = List(orgs, "a list of orgs");
  if (items.empty()) Fail(orgs, "must list at least one org");
  std::map<std::string, std::string> org_paths;
  for (const Item& item : items) {
    Mapping m = Map(item, Keys(OrgSettings()));
    Item name = Required(m, "name");
    std::string org_name = String(name);
    if (!IsOrgName(org_name)) {
      Fail(name,
           "must be 1 to 64 letters, digits, '_', '-' or '.', not starting "
           "with '-' or '.', got " +
               Quote(org_name));
    }
    auto [seen, fresh] = org_paths.emplace(org_name, name.path);
    if (!fresh) {
      Fail(name, "duplicate org name " + Quote(org_name) + " (also at " +
                     seen->second + ")");
    }
    config.orgs.push_back(ParseOrg(m, config));
    config.orgs.back().name = org_name;
  }
}

void Parser::ParseQueries(const Mapping& m, const Config& config,
                          OrgConfig& org) {
  // Names need only be unique within an org: the org label tells orgs apart.
  query_paths_.clear();
  metric_paths_.clear();
  std::optional<Item> queries = m.Get("queries");
  std::optional<Item> files = m.Get("query_files");
  if (!queries && !files) {
    Fail(m.item.node.Mark(), Child(m.item.path, "queries"),
         "is required (or query_files)");
  }
  if (queries) {
    std::vector<Item> items = List(*queries, "a list of queries");
    if (items.empty() && !files) {
      Fail(*queries, "must list at least one query");
    }
    for (const Item& item : items) {
      org.queries.push_back(ParseQuery(item, config));
    }
  }
  if (files) {
    std::vector<Item> entries =
        List(*files, "a list of query file paths or glob patterns");
    if (entries.empty()) Fail(*files, "must list at least one file");
    for (const Item& entry : entries) {
      const std::string pattern = ResolvePath(NonEmpty(entry));
      std::vector<std::string> paths = Glob(pattern);
      if (paths.empty()) Fail(entry, "no file matches " + Quote(pattern));
      for (const std::string& path : paths) {
        ParseQueryFile(entry, path, config, org);
      }
    }
  }
}

void Parser::ParseQueryFile(const Item& at, const std::string& path,
                            const Config& config, OrgConfig& org) {
  std::string yaml;
  if (auto err = ReadFile(path, kMaxConfigBytes, &yaml)) {
    Fail(at, "cannot read query file " + path + ": " + *err);
  }
  // Messages about what is inside name the query file; a failure ends the
  // parse, so the name is put back only on success.
  const std::string including = file();
  set_file(path);
  YAML::Node root = LoadDocument(yaml);
  Mapping top = Map({root, ""}, {"queries"}, "a mapping with the key queries");
  Item queries = Required(top, "queries");
  std::vector<Item> items = List(queries, "a list of queries");
  if (items.empty()) Fail(queries, "must list at least one query");
  for (const Item& item : items) {
    org.queries.push_back(ParseQuery(item, config));
  }
  set_file(including);
}

CloudawareConfig Parser::ParseCloudaware(const Item& item) {
  Mapping m = Map(item, Keys(CloudawareSettings()));
  CloudawareConfig c;
  // First, so that every later message can be scrubbed of the secret.
  ParseSecret(m, c);
  c.url = OrgUrl(Required(m, "url"));
  c.client_id = NonEmpty(Required(m, "client_id"));
  ReadSettings(*this, m, CloudawareSettings(), c);
  if (!m.Get("read_timeout")) c.read_timeout = c.request_timeout;
  c.connect_timeout = std::min(c.connect_timeout, c.request_timeout);
  c.read_timeout = std::min(c.read_timeout, c.request_timeout);
  return c;
}

std::string Parser::OrgUrl(const Item& url) const {
  std::string host;
  std::string s = Url(url, false, &host);
  // Salesforce serves the client credentials flow only on My Domain hosts;
  // the generic login hosts answer every token request with an error.
  if (host == "login.salesforce.com" || host == "test.salesforce.com" ||
      host.ends_with(".salesforce-setup.com") ||
      host.ends_with(".lightning.force.com")) {
    Fail(url, host +
                  " does not work here: the client credentials flow only "
                  "works on the org's My Domain URL (Setup → My Domain), "
                  "e.g. https://acme.my.salesforce.com");
  }
  return s;
}

void Parser::ParseSecret(const Mapping& m, CloudawareConfig& c) {
  std::optional<Item> inline_secret = m.Get("client_secret");
  std::optional<Item> file = m.Get("client_secret_file");
  if (inline_secret && file) {
    Fail(*file, "set either client_secret or client_secret_file, not both");
  }
  if (!inline_secret && !file) {
    Fail(m.item.node.Mark(), Child(m.item.path, "client_secret"),
         "is required; set client_secret or client_secret_file");
  }
  if (inline_secret) {
    // String() and NonEmpty() never echo the value.
    c.client_secret = Secret(NonEmpty(*inline_secret));
    secrets_.push_back(c.client_secret.Reveal());
    return;
  }
  c.client_secret_file = ResolvePath(NonEmpty(*file));
  std::string content;
  if (auto problem = ReadSecretFile(c.client_secret_file, &content)) {
    Fail(*file, *problem);
  }
  secrets_.push_back(content);
  c.client_secret = Secret(std::move(content));
}

QueryConfig Parser::ParseQuery(const Item& item, const Config& config) {
  Mapping m = Map(item, Keys(QuerySettings()));
  QueryConfig q;
  Item name = Required(m, "name");
  q.name = String(name);
  if (!IsName(q.name, false)) {
    Fail(name, "must match [a-zA-Z_][a-zA-Z0-9_]*, got " + Quote(q.name));
  }
  auto [seen, fresh] =
      query_paths_.emplace(q.name, Where(file(), config_file_, item.path));
  if (!fresh) {
    Fail(name, "duplicate query name " + Quote(q.name) + " (also at " +
                   seen->second + ")");
  }
  q.soql = NonEmpty(Required(m, "soql"));
  q.interval = config.default_interval;
  q.stale_after = config.default_stale_after;
  q.max_series = config.default_max_series;
  ReadSettings(*this, m, QuerySettings(), q);
  CheckStaleAfter(item, m, q);
  ParseMetrics(Required(m, "metrics"), q);
  return q;
}

void Parser::CheckStaleAfter(const Item& query, const Mapping& m,
                             const QueryConfig& q) const {
  if (q.stale_after >= q.interval) return;
  std::optional<Item> interval = m.Get("interval");
  std::optional<Item> stale_after = m.Get("stale_after");
  // Point at the setting the user most likely has to change.
  Item at = stale_after ? *stale_after : interval ? *interval : query;
  Fail(at, "stale_after (" + FormatDuration(q.stale_after) +
               (stale_after ? "" : ", from defaults") +
               ") must not be shorter than interval (" +
               FormatDuration(q.interval) +
               (interval ? "" : ", from defaults") + ")");
}

void Parser::ParseMetrics(const Item& metrics, QueryConfig& q) {
  std::vector<Item> items = List(metrics, "a list of metrics");
  if (items.empty()) Fail(metrics, "must list at least one metric");
  // SOQL that cannot be read here is left to the API to judge.
  std::optional<SoqlRefs> refs;
  try {
    refs = ParseSoqlRefs(q.soql);
  } catch (const SoqlError&) {
  }
  for (const Item& metric : items) {
    q.metrics.push_back(ParseMetric(metric, q, refs ? &*refs : nullptr));
  }
}

// A value: or labels: column the result lacks would not fail a run: the
// value would be missing from every row, or the label empty.
void Parser::CheckColumn(const Item& at, const SoqlRefs* refs,
                         const std::string& column,
                         const std::string& label) const {
  if (refs == nullptr || HasColumn(*refs, column)) return;
  Fail(at, "no column \"" + column + "\"" +
               (label.empty() ? "" : " for label " + label) +
               " in the SELECT list (" + ColumnList(*refs) + ")");
}

MetricConfig Parser::ParseMetric(const Item& item, const QueryConfig& query,
                                 const SoqlRefs* refs) {
  Mapping m = Map(item, Keys(MetricSettings()));
  MetricConfig metric;
  metric.name = MetricName(item, Required(m, "name"));
  metric.help = "Result of the " + query.name + " query.";
  ReadSettings(*this, m, MetricSettings(), metric);
  if (auto v = m.Get("value")) ParseValue(*v, refs, metric);
  std::map<std::string, std::string> label_paths;  // label name -> path
  if (auto v = m.Get("labels")) ParseLabels(*v, refs, label_paths, metric);
  if (auto labels = m.Get("labels"); labels && metric.value.empty()) {
    // ToFamily() reads labels from the rows of a value column only.
    Fail(*labels,
         "labels need a value: column; without value the metric is the "
         "query's row count (totalSize), one series");
  }
  if (auto v = m.Get("const_labels")) {
    Mapping cl = Map(*v, {}, "a mapping of label: value");
    for (const auto& e : cl.entries) {
      Item key{e.key_node, e.value.path};
      AddLabel(key, LabelName(key, e.key), label_paths);
      metric.const_labels.emplace_back(e.key, NonEmpty(e.value));
    }
    std::sort(metric.const_labels.begin(), metric.const_labels.end());
  }
  if (auto v = m.Get("expected_values")) ParseExpected(*v, query, metric);
  if (auto v = m.Get("keep_seen_for")) ParseKeepSeenFor(*v, query, metric);
  return metric;
}

std::string Parser::MetricName(const Item& metric, const Item& name) {
  std::string s = String(name);
  if (!IsName(s, true)) {
    Fail(name, "invalid metric name " + Quote(s) +
                   ": must match [a-zA-Z_:][a-zA-Z0-9_:]*");
  }
  if (s.starts_with("cloudaware_exporter_") || IsSelfMetricName(s)) {
    Fail(name, Quote(s) +
                   " is reserved for the exporter's own metrics; pick "
                   "another name");
  }
  if (s.starts_with("process_")) {
    Fail(name, Quote(s) +
                   " is reserved: process_ metrics describe the exporter "
                   "process; pick another name");
  }
  auto [seen, fresh] =
      metric_paths_.emplace(s, Where(file(), config_file_, metric.path));
  if (!fresh) {
    Fail(name, "duplicate metric name " + Quote(s) + " (also at " +
                   seen->second + ")");
  }
  return s;
}

void Parser::ParseValue(const Item& v, const SoqlRefs* refs,
                        MetricConfig& metric) const {
  metric.value = String(v);
  if (metric.value.empty()) {
    Fail(v,
         "must not be empty; omit value to export the row count "
         "(totalSize)");
  }
  // value: 1 (or any finite number) rather than a column name.
  metric.constant = ParseNumber(metric.value);
  if (!metric.constant) CheckColumn(v, refs, metric.value, "");
}

void Parser::AddLabel(const Item& at, const std::string& label,
                      std::map<std::string, std::string>& paths) const {
  if (several_orgs_ && label == "org") {
    Fail(at,
         "the org label is set from the org's name in orgs; pick another "
         "label name");
  }
  auto [other, added] = paths.emplace(label, at.path);
  if (!added) {
    Fail(at, "duplicate label name " + Quote(label) + " (also at " +
                 other->second + ")");
  }
}

void Parser::ParseLabels(const Item& labels, const SoqlRefs* refs,
                         std::map<std::string, std::string>& paths,
                         MetricConfig& metric) const {
  if (labels.node.IsSequence()) {
    for (const Item& column : List(labels, "a list")) {
      std::string label = LabelName(
          column, String(column),
          "; to export a column under another name, write labels as a "
          "mapping {label: column}");
      AddLabel(column, label, paths);
      CheckColumn(column, refs, label, label);
      metric.labels.emplace_back(label, label);
    }
  } else if (labels.node.IsMap()) {
    for (const auto& e : Map(labels, {}).entries) {
      Item key{e.key_node, e.value.path};
      std::string label = LabelName(key, e.key);
      AddLabel(key, label, paths);
      metric.labels.emplace_back(label, NonEmpty(e.value));
      CheckColumn(e.value, refs, metric.labels.back().second, label);
    }
  } else {
    Fail(labels,
         "must be a list of result columns or a mapping of "
         "label: column, got " +
             KindName(labels.node));
  }
}

// A metric without a value column is the row count: one series that never
// vanishes, so there is nothing to fill.
void Parser::NeedsValue(const Item& v, const MetricConfig& metric) const {
  if (!metric.value.empty()) return;
  Fail(v,
       "needs a value column; without one the metric is the row count, a "
       "single series that never vanishes");
}

void Parser::ParseExpected(const Item& v, const QueryConfig& query,
                           MetricConfig& metric) const {
  NeedsValue(v, metric);
  Mapping expected = Map(v, {}, "a mapping of label: [values]");
  if (expected.entries.empty()) Fail(v, "must name at least one label");
  size_t combinations = 1;
  for (const auto& e : expected.entries) {
    CheckLabelled(Item{e.key_node, e.value.path}, e.key, metric);
    std::vector<std::string> values = ExpectedList(e.value);
    combinations *= values.size();
    if (combinations > static_cast<size_t>(query.max_series)) {
      Fail(v, "makes more than max_series (" +
                  std::to_string(query.max_series) +
                  ") combinations of values");
    }
    metric.expected_values.emplace_back(e.key, std::move(values));
  }
}

void Parser::CheckLabelled(const Item& key, const std::string& label,
                           const MetricConfig& metric) const {
  std::string names;
  for (const auto& [name, column] : metric.labels) {
    if (name == label) return;
    names += (names.empty() ? "" : ", ") + name;
  }
  Fail(key, Quote(label) + " is not one of the metric's labels" +
                (names.empty() ? " (it has none)" : " (" + names + ")"));
}

std::vector<std::string> Parser::ExpectedList(const Item& list) const {
  std::vector<std::string> values;
  for (const Item& value : List(list, "a list of label values")) {
    std::string text = String(value);
    if (std::find(values.begin(), values.end(), text) != values.end()) {
      Fail(value, "duplicate value " + Quote(text));
    }
    values.push_back(std::move(text));
  }
  if (values.empty()) Fail(list, "must list at least one value");
  return values;
}

void Parser::ParseKeepSeenFor(const Item& v, const QueryConfig& query,
                              MetricConfig& metric) const {
  NeedsValue(v, metric);
  metric.keep_seen_for = Duration(v, kMinInterval);
  if (metric.keep_seen_for <= query.interval) {
    Fail(v, "keep_seen_for (" + FormatDuration(metric.keep_seen_for) +
                ") must be longer than the query's interval (" +
                FormatDuration(query.interval) +
                "), or a label set is forgotten before the next run");
  }
}

std::string Parser::LabelName(const Item& item, const std::string& name,
                              std::string_view hint) const {
  if (!IsName(name, false)) {
    Fail(item, "invalid label name " + Quote(name) +
                   ": must match [a-zA-Z_][a-zA-Z0-9_]*" + std::string(hint));
  }
  if (name.starts_with("__")) {
    Fail(item, "invalid label name " + Quote(name) +
                   ": names starting with __ are reserved for Prometheus");
  }
  return name;
}

}  // namespace

std::optional<std::string> ReadSecretFile(const std::string& path,
                                          std::string* secret) {
  if (auto err = ReadFile(path, kMaxSecretBytes, secret)) {
    return "cannot read secret file " + path + ": " + *err;
  }
  secret->erase(secret->find_last_not_of(" \t\r\n\f\v") + 1);
  if (secret->empty()) return "secret file " + path + " is empty";
  return std::nullopt;
}

EnvLookup ProcessEnv() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* value = std::getenv(name.c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
}

Config LoadConfig(const std::string& path, const EnvLookup& env) {
  std::string yaml;
  if (auto err = ReadFile(path, kMaxConfigBytes, &yaml)) {
    throw ConfigError(path + ": cannot read config file: " + *err);
  }
  return ParseConfig(yaml, path, env);
}

Config ParseConfig(std::string_view yaml, const std::string& file_name,
                   const EnvLookup& env) {
  Parser parser(file_name, env);
  try {
    return parser.Parse(yaml);
  } catch (const YAML::Exception& e) {
    // The parser only reads nodes it has checked; this is a safety net so
    // that no input can get past the ConfigError contract.
    throw ConfigError(file_name + ": cannot read the YAML: " + e.msg);
  }
}

namespace {

void EmitCloudaware(YAML::Emitter& out, const CloudawareConfig& c) {
  out << YAML::Key << "cloudaware" << YAML::Value << YAML::BeginMap;
  DumpSettings(out, CloudawareSettings(), c);
  out << YAML::EndMap;
}

void EmitQueries(YAML::Emitter& out, const std::vector<QueryConfig>& queries) {
  out << YAML::Key << "queries" << YAML::Value << YAML::BeginSeq;
  for (const QueryConfig& q : queries) {
    out << YAML::BeginMap;
    DumpSettings(out, QuerySettings(), q);
    out << YAML::EndMap;
  }
  out << YAML::EndSeq;
}

}  // namespace

std::string RedactedYaml(const Config& config) {
  YAML::Emitter out;
  out << YAML::BeginMap;
  const bool several_orgs =
      config.orgs.size() != 1 || !config.orgs[0].name.empty();
  if (!several_orgs) EmitCloudaware(out, config.orgs[0].cloudaware);
  out << YAML::Key << "defaults" << YAML::Value << YAML::BeginMap;
  DumpSettings(out, DefaultsSettings(), config);
  out << YAML::EndMap;
  if (!several_orgs) {
    EmitQueries(out, config.orgs[0].queries);
  } else {
    out << YAML::Key << "orgs" << YAML::Value << YAML::BeginSeq;
    for (const OrgConfig& org : config.orgs) {
      out << YAML::BeginMap;
      out << YAML::Key << "name" << YAML::Value << Escape(org.name);
      EmitCloudaware(out, org.cloudaware);
      EmitQueries(out, org.queries);
      out << YAML::EndMap;
    }
    out << YAML::EndSeq;
  }
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

}  // namespace cloudaware_exporter
