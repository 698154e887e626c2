#include "exporter/config/config_settings.h"

#include <string>
#include <utility>

#include "exporter/base/duration.h"
#include "exporter/base/file_util.h"

namespace cloudaware_exporter {
namespace {

using Item = YamlReader::Item;

void ReadApiVersion(const YamlReader& r, const Item& v, CloudawareConfig& c) {
  std::string s = r.String(v);
  std::string_view version = s;
  if (version.starts_with('v')) version.remove_prefix(1);
  size_t dot = version.find('.');
  if (dot == std::string_view::npos || !IsDigits(version.substr(0, dot)) ||
      !IsDigits(version.substr(dot + 1))) {
    r.Fail(v, "must be an API version such as 66.0, got " + Quote(s));
  }
  c.api_version = version;
}

// Read when the config loads, so that a wrong path fails --config.check
// rather than the first poll.
void ReadCaFile(const YamlReader& r, const Item& v, TlsConfig& tls) {
  std::string path = r.String(v);
  if (path.empty()) return;
  tls.ca_file = r.ResolvePath(path);
  std::string pem;
  if (auto err = ReadFile(tls.ca_file, kMaxConfigBytes, &pem)) {
    r.Fail(v, "cannot read CA file " + tls.ca_file + ": " + *err);
  }
}

template <typename T>
Setting<T> WithDefault(Setting<T> s, std::string default_value) {
  s.default_value = std::move(default_value);
  return s;
}

// Keys read by the parser's own code, which checks them with others;
// listed for the known-key check and the reference.
template <typename T>
Setting<T> Doc(std::string key, std::string type, std::string description) {
  return {std::move(key),         std::move(type), "",
          std::move(description), nullptr,         nullptr};
}

// A key whose value is a mapping of its own table's settings. `part`
// picks them out of the T, const or not: `[](auto& c) -> auto& {...}`.
template <typename T, typename S, typename Part>
Setting<T> SectionSetting(std::string key, const Settings<S>& (*table)(),
                          Part part, std::string description) {
  return {key,
          "mapping",
          "",
          std::move(description),
          [table, part](const YamlReader& r, const Item& v, T& t) {
            ReadSection(r, v, table(), part(t));
          },
          [key, table, part](YAML::Emitter& out, const T& t) {
            out << YAML::Key << key << YAML::Value << YAML::BeginMap;
            DumpSettings(out, table(), part(t));
            out << YAML::EndMap;
          }};
}

template <typename T>
void DumpLabelMap(YAML::Emitter& out, const char* key, const T& pairs) {
  if (pairs.empty()) return;
  out << YAML::Key << key << YAML::Value << YAML::BeginMap;
  for (const auto& [name, value] : pairs) {
    out << YAML::Key << name << YAML::Value << Escape(value);
  }
  out << YAML::EndMap;
}

void DumpExpectedValues(YAML::Emitter& out, const MetricConfig& metric) {
  if (metric.expected_values.empty()) return;
  out << YAML::Key << "expected_values" << YAML::Value << YAML::BeginMap;
  for (const auto& [label, values] : metric.expected_values) {
    out << YAML::Key << label << YAML::Value << YAML::Flow << YAML::BeginSeq;
    for (const std::string& value : values) out << Escape(value);
    out << YAML::EndSeq;
  }
  out << YAML::EndMap;
}

}  // namespace

const Settings<CloudawareConfig>& BudgetGuardSettings() {
  using C = CloudawareConfig;
  static const Settings<C> table = {
      ShareSetting("min_remaining", &C::budget_min_remaining,
                   "a share of the org's daily API allocation; while less "
                   "is left, query intervals are multiplied by "
                   "`min_remaining` / share left, at most `max_stretch`. "
                   "`0` turns the guard off"),
      IntegerSetting("max_stretch", &C::budget_max_stretch, 1, 100,
                     "the most the guard stretches a query's interval by"),
  };
  return table;
}

const Settings<TlsConfig>& TlsSettings() {
  static const Settings<TlsConfig> table = {
      StringSetting<TlsConfig>(
          "ca_file", &TlsConfig::ca_file, "path",
          "a PEM bundle to trust instead of the system CAs (a "
          "private CA, a TLS-inspecting proxy); relative to the "
          "config file",
          ReadCaFile),
      BoolSetting("insecure_skip_verify", &TlsConfig::insecure_skip_verify,
                  "turns verification off; do not"),
  };
  return table;
}

const Settings<CloudawareConfig>& CloudawareSettings() {
  using C = CloudawareConfig;
  static const Settings<C> table = {
      StringSetting<C>("url", &C::url, "`https://host[:port]`",
                       "required: the org's My Domain URL; "
                       "`login.salesforce.com` and the like are refused",
                       nullptr),
      StringSetting<C>("client_id", &C::client_id, "string",
                       "required: the connected app's consumer key", nullptr),
      {"client_secret", "string", "",
       "the consumer secret; this or `client_secret_file` is required", nullptr,
       [](YAML::Emitter& out, const C& c) {
         if (!c.client_secret_file.empty()) return;
         out << YAML::Key << "client_secret" << YAML::Value
             << c.client_secret.ToString();
       }},
      {"client_secret_file", "path", "",
       "a file holding the secret, its trailing newline dropped; relative "
       "to the config file",
       nullptr,
       [](YAML::Emitter& out, const C& c) {
         if (c.client_secret_file.empty()) return;
         out << YAML::Key << "client_secret_file" << YAML::Value
             << Escape(c.client_secret_file);
       }},
      ChoiceSetting("client_auth", &C::client_auth, {"body", "basic"},
                    "`body` sends the client id and secret in the token "
                    "request's form, `basic` in an HTTP Basic header"),
      {"api_version", "`66.0`, `\"66.0\"` or `v66.0`", C{}.api_version,
       "the REST API version", ReadApiVersion,
       [](YAML::Emitter& out, const C& c) {
         out << YAML::Key << "api_version" << YAML::Value << YAML::DoubleQuoted
             << c.api_version;
       }},
      DurationSetting("request_timeout", &C::request_timeout,
                      std::chrono::milliseconds(1),
                      "the whole of one request, connecting included; the "
                      "other two timeouts never exceed it"),
      DurationSetting("connect_timeout", &C::connect_timeout,
                      std::chrono::milliseconds(1), "connecting"),
      WithDefault(DurationSetting("read_timeout", &C::read_timeout,
                                  std::chrono::milliseconds(1),
                                  "the longest wait for more bytes; the API "
                                  "sends nothing while a query runs"),
                  "request_timeout"),
      IntegerSetting("max_retries", &C::max_retries, 0, 10,
                     "retries of one request after a network error, a "
                     "timeout or a 5xx answer"),
      BytesSetting("max_response_size", &C::max_response_size, 1024,
                   int64_t{1} << 32,
                   "a larger answer is abandoned as `too_large`"),
      IntegerSetting("max_concurrency", &C::max_concurrency, 1, 64,
                     "API requests of this org at the same time"),
      ChoiceSetting("batching", &C::batching, {"none", "composite"},
                    "`composite` sends queries due together up to 5 at a "
                    "time in one `/composite` call"),
      SectionSetting<C, C>(
          "budget_guard", &BudgetGuardSettings,
          [](auto& c) -> auto& { return c; },
          "stretches query intervals when the daily API allocation runs low"),
      SectionSetting<C, TlsConfig>(
          "tls", &TlsSettings, [](auto& c) -> auto& { return c.tls; },
          "verification of the API's certificate"),
      StringSetting<C>("proxy_url", &C::proxy_url, "`http(s)://host:port`",
                       "an HTTP proxy for every request; empty: none",
                       [](const YamlReader& r, const Item& v, C& c) {
                         if (!r.String(v).empty()) c.proxy_url = r.Url(v, true);
                       }),
  };
  return table;
}

const Settings<Config>& TopSettings() {
  static const Settings<Config> table = {
      Doc<Config>("cloudaware", "mapping",
                  "the org's connection, see `cloudaware.*`; required "
                  "without `orgs`"),
      Doc<Config>("defaults", "mapping", "see `defaults.*`"),
      Doc<Config>("queries", "list",
                  "see `queries[].*`; this, `query_files` or both are "
                  "required without `orgs`"),
      Doc<Config>("query_files", "list of paths or glob patterns",
                  "files holding more `queries`, relative to this file"),
      Doc<Config>("orgs", "list",
                  "several orgs instead of the top-level `cloudaware`, "
                  "`queries` and `query_files`; see `orgs[].*`"),
  };
  return table;
}

const Settings<OrgConfig>& OrgSettings() {
  static const Settings<OrgConfig> table = {
      Doc<OrgConfig>("name", "1 to 64 of `A-Za-z0-9_.-`",
                     "required: the value of the `org` label"),
      Doc<OrgConfig>("cloudaware", "mapping", "required: as `cloudaware.*`"),
      Doc<OrgConfig>("queries", "list", "as `queries[].*`"),
      Doc<OrgConfig>("query_files", "list of paths or glob patterns",
                     "as `query_files`"),
  };
  return table;
}

const Settings<Config>& DefaultsSettings() {
  static const Settings<Config> table = {
      DurationSetting("interval", &Config::default_interval, kMinInterval,
                      "how often a query runs"),
      DurationSetting("stale_after", &Config::default_stale_after, kMinInterval,
                      "after failures, the last good values are kept this "
                      "long, then dropped; at least the interval"),
      IntegerSetting("max_series", &Config::default_max_series, 1, kMaxSeries,
                     "series per query run, over all its metrics; the "
                     "first ones in result order are kept, the rest "
                     "counted and dropped"),
      IntegerSetting("max_label_value_length", &Config::max_label_value_length,
                     16, 65536,
                     "longer label values keep their head and get `~` and "
                     "a hash of the whole value"),
  };
  return table;
}

const Settings<MetricConfig>& MetricSettings() {
  using M = MetricConfig;
  static const Settings<M> table = {
      StringSetting<M>("name", &M::name, "`[a-zA-Z_:][a-zA-Z0-9_:]*`",
                       "required: the metric name, unique in the org; the "
                       "exporter's own names are reserved",
                       nullptr),
      WithDefault(
          StringSetting<M>("help", &M::help, "string", "the HELP text",
                           [](const YamlReader& r, const Item& v, M& m) {
                             std::string help = r.String(v);
                             if (!help.empty()) m.help = help;
                           }),
          "Result of the <query> query."),
      {"value", "a result column, or a number", "",
       "the column holding the value; a number exports that value for "
       "every record; omitted: the row count (`totalSize`)",
       nullptr,
       [](YAML::Emitter& out, const M& m) {
         if (m.value.empty()) return;
         out << YAML::Key << "value" << YAML::Value << Escape(m.value);
       }},
      {"labels", "list of columns, or mapping label: column", "",
       "result columns that become labels; needs `value`", nullptr,
       [](YAML::Emitter& out, const M& m) {
         DumpLabelMap(out, "labels", m.labels);
       }},
      {"const_labels", "mapping label: value", "",
       "labels of fixed value on every series", nullptr,
       [](YAML::Emitter& out, const M& m) {
         DumpLabelMap(out, "const_labels", m.const_labels);
       }},
      {"expected_values", "mapping label: [values]", "",
       "zero-fill: these values always export, 0 when absent; needs "
       "`value`",
       nullptr, DumpExpectedValues},
      {"keep_seen_for", "duration, longer than the query's interval", "",
       "zero-fill: label sets seen within this long export 0 when absent; "
       "needs `value`",
       nullptr,
       [](YAML::Emitter& out, const M& m) {
         if (m.keep_seen_for.count() == 0) return;
         out << YAML::Key << "keep_seen_for" << YAML::Value
             << FormatDuration(m.keep_seen_for);
       }},
  };
  return table;
}

const Settings<QueryConfig>& QuerySettings() {
  using Q = QueryConfig;
  static const Settings<Q> table = {
      StringSetting<Q>("name", &Q::name, "`[a-zA-Z_][a-zA-Z0-9_]*`",
                       "required: the `query` label of the self metrics, "
                       "unique in the org",
                       nullptr),
      StringSetting<Q>("soql", &Q::soql, "string", "required: the SOQL query",
                       nullptr),
      WithDefault(DurationSetting("interval", &Q::interval, kMinInterval,
                                  "overrides `defaults.interval`"),
                  "defaults.interval"),
      WithDefault(DurationSetting("stale_after", &Q::stale_after, kMinInterval,
                                  "overrides `defaults.stale_after`"),
                  "defaults.stale_after"),
      WithDefault(IntegerSetting("max_series", &Q::max_series, 1, kMaxSeries,
                                 "overrides `defaults.max_series`"),
                  "defaults.max_series"),
      {"metrics", "list", "", "required: see `queries[].metrics[].*`", nullptr,
       [](YAML::Emitter& out, const Q& q) {
         out << YAML::Key << "metrics" << YAML::Value << YAML::BeginSeq;
         for (const MetricConfig& metric : q.metrics) {
           out << YAML::BeginMap;
           DumpSettings(out, MetricSettings(), metric);
           out << YAML::EndMap;
         }
         out << YAML::EndSeq;
       }},
  };
  return table;
}

std::string SettingsReferenceMarkdown() {
  return "| key | type | default | description |\n|---|---|---|---|\n" +
         MarkdownRows("", TopSettings()) +
         MarkdownRows("cloudaware.", CloudawareSettings()) +
         MarkdownRows("cloudaware.budget_guard.", BudgetGuardSettings()) +
         MarkdownRows("cloudaware.tls.", TlsSettings()) +
         MarkdownRows("defaults.", DefaultsSettings()) +
         MarkdownRows("queries[].", QuerySettings()) +
         MarkdownRows("queries[].metrics[].", MetricSettings()) +
         MarkdownRows("orgs[].", OrgSettings());
}

}  // namespace cloudaware_exporter
