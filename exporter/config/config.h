// The exporter's YAML config: its types, the loader that checks it, and a
// redacted dump of it. main.cc loads it at startup, on SIGHUP, on
// POST /-/reload and for --config.check; the result is a plain value that
// is never changed afterwards, so threads may share it read-only.
#ifndef CLOUDAWARE_EXPORTER_CONFIG_H_
#define CLOUDAWARE_EXPORTER_CONFIG_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <ostream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "exporter/base/secret.h"

namespace cloudaware_exporter {

struct TlsConfig {
  std::string ca_file;  // resolved against the config file's directory
  bool insecure_skip_verify = false;
};

// Where client_id and client_secret go in the token request: form fields in
// the body, or an HTTP Basic Authorization header.
enum class ClientAuth { kBody, kBasic };

// kComposite sends up to 5 queries in one composite API call.
enum class Batching { kNone, kComposite };

struct CloudawareConfig {
  std::string url;  // scheme://host[:port], no trailing slash
  std::string client_id;
  Secret client_secret;
  // When the secret came from a file: its path, resolved against the config
  // file's directory. Empty when the secret was given inline.
  std::string client_secret_file;
  ClientAuth client_auth = ClientAuth::kBody;
  std::string api_version = "66.0";  // without the "v"
  // Whole request, from connecting to the last byte of the answer.
  std::chrono::milliseconds request_timeout{120000};
  std::chrono::milliseconds connect_timeout{10000};
  // Longest wait for the next bytes of an answer; the API sends nothing
  // while a query runs, so this is as long as request_timeout by default.
  std::chrono::milliseconds read_timeout{120000};
  // Retries after a network error, a timeout or a 5xx answer.
  int max_retries = 2;
  // Larger answers are abandoned as "too_large".
  int64_t max_response_size = 64 << 20;
  int max_concurrency = 4;
  Batching batching = Batching::kNone;
  // Budget guard (see cmdb_client.h): below this share of the daily API
  // allocation left, query intervals stretch, by at most max_stretch. 0 turns
  // it off.
  double budget_min_remaining = 0.1;
  double budget_max_stretch = 8;
  TlsConfig tls;
  std::string proxy_url;  // empty, or http(s)://host:port
};

struct MetricConfig {
  std::string name;
  std::string help;
  // The result column holding the value; empty: the value is the query's
  // totalSize (SELECT COUNT()).
  std::string value;
  // Set when value: is a number rather than a column: every record is a
  // series of that value, as info metrics (value 1) want. A SOQL alias
  // starts with a letter, so the two cannot be confused.
  std::optional<double> constant;
  // Label name -> result column, in config order.
  std::vector<std::pair<std::string, std::string>> labels;
  // Label name -> fixed value, sorted by name.
  std::vector<std::pair<std::string, std::string>> const_labels;
  // Zero-fill (samples.h, ZeroFill). Label name (one of labels) -> values
  // that always export, 0 when absent; in config order, values as written.
  std::vector<std::pair<std::string, std::vector<std::string>>> expected_values;
  // Label sets seen in a successful run within this long export 0 while
  // absent; 0: off.
  std::chrono::milliseconds keep_seen_for{0};
};

struct QueryConfig {
  std::string name;
  std::string soql;
  // Always set: from the query, or else from the defaults section.
  std::chrono::milliseconds interval{0};
  std::chrono::milliseconds stale_after{0};
  // Series beyond this many (over all the query's metrics) are dropped and
  // counted.
  int64_t max_series = 10000;
  std::vector<MetricConfig> metrics;
};

// One Cloudaware org: its connection and its queries, from the config's
// top level, or from one entry of its `orgs` list.
struct OrgConfig {
  // The value of the `org` label on every series of this org; "" in the
  // single-org form, whose series carry no org label.
  std::string name;
  CloudawareConfig cloudaware;
  // Those listed inline, then those of query_files, in file order.
  std::vector<QueryConfig> queries;
};

struct Config {
  std::string file;  // the file it was loaded from, as given
  // Never empty: one org with an empty name, or the `orgs` list.
  std::vector<OrgConfig> orgs;
  std::chrono::milliseconds default_interval{300000};
  std::chrono::milliseconds default_stale_after{900000};
  int64_t default_max_series = 10000;
  // Longer label values are cut (see samples.h).
  size_t max_label_value_length = 1024;
};

// The message is complete and fit for users, one line:
// "<file>:<line>:<column>: <path>: <problem>", for example
// "exporter.yml:12:16: queries[0].metrics[1].value: must not be empty".
// It never contains a secret.
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Resolves ${VAR} in config values. Tests pass a fake.
using EnvLookup =
    std::function<std::optional<std::string>(const std::string& name)>;

// The process environment (getenv).
EnvLookup ProcessEnv();

// Reads a client secret file (at most 64 KiB) into *secret, without the
// trailing whitespace that `echo` and editors add. Returns the problem
// ("cannot read secret file <path>: <why>", "secret file <path> is empty"),
// or nullopt on success. The secret itself never appears in the problem.
std::optional<std::string> ReadSecretFile(const std::string& path,
                                          std::string* secret);

// Reads and checks the config file. Throws ConfigError on the first problem.
Config LoadConfig(const std::string& path, const EnvLookup& env = ProcessEnv());

// Checks config text; file_name is used in messages, and relative paths in
// the config (client_secret_file, tls.ca_file) are resolved against its
// directory. Reads the secret file. Throws ConfigError on the first problem.
Config ParseConfig(std::string_view yaml, const std::string& file_name,
                   const EnvLookup& env);

// The effective config (defaults filled in) as YAML, with the client secret
// shown as "<secret>"; a secret file appears by its path only. "$" is
// written as "$$", so the text loads back as the same config.
std::string RedactedYaml(const Config& config);

}  // namespace cloudaware_exporter

#endif  // CLOUDAWARE_EXPORTER_CONFIG_H_
