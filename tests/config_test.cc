#include "exporter/config/config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>

#include "exporter/config/config_settings.h"
#include "util/fake_env.h"

namespace cloudaware_exporter {
namespace {

using std::chrono::milliseconds;
using Pairs = std::vector<std::pair<std::string, std::string>>;

const std::string kConfigDir = std::string(TESTDATA_DIR) + "/config/";
constexpr char kSecret[] = "hunter2-SECRET";

using test_util::FakeEnv;

const EnvLookup kEnv = FakeEnv({
    {"CLOUDAWARE_CLIENT_ID", "3MVG9exporter"},
    {"CLOUDAWARE_CLIENT_SECRET", kSecret},
    {"MAX_CONCURRENCY", "8"},
});

// The smallest valid config; tests append to or replace parts of it.
constexpr char kCloudaware[] = R"(cloudaware:
  url: https://acme.my.salesforce.com
  client_id: exporter
  client_secret: hunter2-SECRET
)";
constexpr char kQueries[] = R"(queries:
  - name: aws_ec2_instances
    soql: SELECT COUNT() FROM CA10__CaAwsInstance__c
    metrics:
      - name: cloudaware_aws_ec2_instances
)";

std::string ErrorOf(const std::string& yaml, const EnvLookup& env = kEnv) {
  try {
    ParseConfig(yaml, "test.yml", env);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

// A fresh directory under the test's temporary directory.
std::filesystem::path TempDir(const std::string& name) {
  auto dir = std::filesystem::path(testing::TempDir()) /
             ("config_test_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

void WriteFile(const std::filesystem::path& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

TEST(ConfigTest, LoadsGoodConfig) {
  Config c = LoadConfig(kConfigDir + "good.yml", kEnv);
  EXPECT_EQ(c.file, kConfigDir + "good.yml");

  const CloudawareConfig& ca = c.orgs[0].cloudaware;
  EXPECT_EQ(ca.url, "https://acme.my.salesforce.com");
  EXPECT_EQ(ca.client_id, "3MVG9exporter");
  EXPECT_EQ(ca.client_secret.Reveal(), kSecret);
  EXPECT_EQ(ca.client_secret_file, "");
  EXPECT_EQ(ca.client_auth, ClientAuth::kBasic);
  EXPECT_EQ(ca.api_version, "62.0");
  EXPECT_EQ(ca.request_timeout, milliseconds(90000));
  EXPECT_EQ(ca.max_concurrency, 8);
  EXPECT_EQ(ca.batching, Batching::kComposite);
  EXPECT_EQ(ca.tls.ca_file, "");
  EXPECT_TRUE(ca.tls.insecure_skip_verify);
  EXPECT_EQ(ca.proxy_url, "http://proxy.example.com:3128");
  EXPECT_EQ(c.default_interval, milliseconds(120000));
  EXPECT_EQ(c.default_stale_after, milliseconds(1200000));

  ASSERT_EQ(c.orgs[0].queries.size(), 2u);
  const QueryConfig& ec2 = c.orgs[0].queries[0];
  EXPECT_EQ(ec2.name, "aws_ec2_instances");
  EXPECT_EQ(ec2.soql,
            "SELECT CA10__stateName__c state, COUNT(Id) n FROM "
            "CA10__CaAwsInstance__c WHERE CA10__disappearanceTime__c = null "
            "GROUP BY CA10__stateName__c LIMIT 2000");
  EXPECT_EQ(ec2.interval, milliseconds(600000));
  EXPECT_EQ(ec2.stale_after, milliseconds(1200000));
  ASSERT_EQ(ec2.metrics.size(), 1u);
  const MetricConfig& m = ec2.metrics[0];
  EXPECT_EQ(m.name, "cloudaware_aws_ec2_instances");
  EXPECT_EQ(m.help,
            "EC2 instances in the CMDB (deleted ones excluded), by state.");
  EXPECT_EQ(m.value, "n");
  EXPECT_EQ(m.labels, (Pairs{{"state", "state"}}));
  EXPECT_EQ(m.const_labels, (Pairs{{"cloud", "aws"}, {"tier", "1"}}));

  const QueryConfig& vms = c.orgs[0].queries[1];
  EXPECT_EQ(vms.name, "azure_vms");
  EXPECT_EQ(vms.interval, milliseconds(120000));
  EXPECT_EQ(vms.stale_after, milliseconds(3600000));
  ASSERT_EQ(vms.metrics.size(), 2u);
  EXPECT_EQ(vms.metrics[0].name, "cloudaware_azure_vms");
  EXPECT_EQ(vms.metrics[0].help, "Result of the azure_vms query.");
  EXPECT_EQ(vms.metrics[0].value, "");
  EXPECT_TRUE(vms.metrics[0].labels.empty());
  EXPECT_EQ(vms.metrics[1].labels, (Pairs{{"region", "CA10a1__region__c"},
                                          {"size", "CA10a1__vmSize__c"}}));
}

TEST(ConfigTest, AppliesDefaults) {
  Config c = ParseConfig(std::string(kCloudaware) + kQueries, "t.yml", kEnv);
  const CloudawareConfig& ca = c.orgs[0].cloudaware;
  EXPECT_EQ(ca.client_auth, ClientAuth::kBody);
  EXPECT_EQ(ca.api_version, "66.0");
  EXPECT_EQ(ca.request_timeout, milliseconds(120000));
  EXPECT_EQ(ca.max_concurrency, 4);
  EXPECT_EQ(ca.batching, Batching::kNone);
  EXPECT_EQ(ca.tls.ca_file, "");
  EXPECT_FALSE(ca.tls.insecure_skip_verify);
  EXPECT_EQ(ca.proxy_url, "");
  EXPECT_EQ(c.default_interval, milliseconds(300000));
  EXPECT_EQ(c.default_stale_after, milliseconds(900000));
  ASSERT_EQ(c.orgs[0].queries.size(), 1u);
  EXPECT_EQ(c.orgs[0].queries[0].interval, milliseconds(300000));
  EXPECT_EQ(c.orgs[0].queries[0].stale_after, milliseconds(900000));
  EXPECT_EQ(c.orgs[0].queries[0].metrics[0].help,
            "Result of the aws_ec2_instances query.");
  EXPECT_EQ(ca.connect_timeout, milliseconds(10000));
  EXPECT_EQ(ca.read_timeout, ca.request_timeout);
  EXPECT_EQ(ca.max_retries, 2);
  EXPECT_EQ(ca.max_response_size, 64 << 20);
  EXPECT_EQ(c.default_max_series, 10000);
  EXPECT_EQ(c.orgs[0].queries[0].max_series, 10000);
  EXPECT_EQ(c.max_label_value_length, 1024u);
  EXPECT_EQ(ca.batching, Batching::kNone);
  EXPECT_EQ(ca.budget_min_remaining, 0.1);
  EXPECT_EQ(ca.budget_max_stretch, 8);
}

TEST(ConfigTest, ReadsBatchingAndTheBudgetGuard) {
  for (const auto& [share, expected] :
       std::vector<std::pair<std::string, double>>{
           {"25%", 0.25}, {"2.5%", 0.025}, {"0.3", 0.3}, {"0", 0}, {"0%", 0}}) {
    Config c = ParseConfig(std::string(kCloudaware) +
                               "  batching: composite\n"
                               "  budget_guard: {min_remaining: \"" +
                               share + "\", max_stretch: 20}\n" + kQueries,
                           "t.yml", kEnv);
    EXPECT_EQ(c.orgs[0].cloudaware.batching, Batching::kComposite);
    EXPECT_DOUBLE_EQ(c.orgs[0].cloudaware.budget_min_remaining, expected)
        << share;
    EXPECT_EQ(c.orgs[0].cloudaware.budget_max_stretch, 20);
    Config again = ParseConfig(RedactedYaml(c), "t.yml", kEnv);
    EXPECT_DOUBLE_EQ(again.orgs[0].cloudaware.budget_min_remaining, expected)
        << share;
    EXPECT_EQ(again.orgs[0].cloudaware.budget_max_stretch, 20);
    EXPECT_EQ(again.orgs[0].cloudaware.batching, Batching::kComposite);
  }
  for (const char* bad : {"100%", "1", "1.5", "-5%", "ten", "1e-1", ".5", "%",
                          "5.%", "nan", "0.1.2"}) {
    EXPECT_EQ(ErrorOf(std::string(kCloudaware) +
                      "  budget_guard: {min_remaining: \"" + bad + "\"}\n" +
                      kQueries),
              "test.yml:5:33: cloudaware.budget_guard.min_remaining: must be "
              "a share below 100%, such as 10% or 0.1, got '" +
                  std::string(bad) + "'");
  }
  EXPECT_NE(ErrorOf(std::string(kCloudaware) +
                    "  budget_guard: {max_stretch: 0}\n" + kQueries)
                .find("cloudaware.budget_guard.max_stretch: must be an integer "
                      "from 1 to 100, got '0'"),
            std::string::npos);
  EXPECT_NE(ErrorOf(std::string(kCloudaware) +
                    "  budget_guard: {stretch: 2}\n" + kQueries)
                .find("unknown key 'stretch' (known: min_remaining, "
                      "max_stretch)"),
            std::string::npos);
}

TEST(ConfigTest, DumpKeepsControlCharactersAndRefusesNonUtf8) {
  Config c = ParseConfig(std::string(kCloudaware) + R"(queries:
  - name: q
    soql: SELECT COUNT() FROM CA10__CaAwsInstance__c
    metrics: [{name: m, const_labels: {d: "a\r", t: "x\ty"}}]
)",
                         "t.yml", kEnv);
  Config again = ParseConfig(RedactedYaml(c), "t.yml", kEnv);
  EXPECT_EQ(again.orgs[0].queries[0].metrics[0].const_labels,
            (Pairs{{"d", "a\r"}, {"t", "x\ty"}}));

  EXPECT_EQ(ErrorOf(std::string(kCloudaware) +
                    "queries:\n  - name: q\n"
                    "    soql: \"\xff\xfe\"\n    metrics: [{name: m}]\n"),
            "test.yml:7:11: queries[0].soql: must be UTF-8 text");
}

TEST(ConfigTest, ReadsBounds) {
  Config c = ParseConfig(std::string(kCloudaware) + R"(  request_timeout: 30s
  connect_timeout: 2s
  read_timeout: 20s
  max_retries: 0
  max_response_size: 8MiB
defaults: {max_series: 500, max_label_value_length: 64}
queries:
  - name: a
    soql: SELECT COUNT() FROM CA10__CaAwsInstance__c
    metrics: [{name: a}]
  - name: b
    soql: SELECT COUNT() FROM CA10__CaAwsInstance__c
    max_series: 20
    metrics: [{name: b}]
)",
                         "t.yml", kEnv);
  EXPECT_EQ(c.orgs[0].cloudaware.connect_timeout, milliseconds(2000));
  EXPECT_EQ(c.orgs[0].cloudaware.read_timeout, milliseconds(20000));
  EXPECT_EQ(c.orgs[0].cloudaware.max_retries, 0);
  EXPECT_EQ(c.orgs[0].cloudaware.max_response_size, 8 << 20);
  EXPECT_EQ(c.max_label_value_length, 64u);
  EXPECT_EQ(c.orgs[0].queries[0].max_series, 500);
  EXPECT_EQ(c.orgs[0].queries[1].max_series, 20);

  // Connect and read timeouts never outlast the whole request.
  Config short_total = ParseConfig(
      std::string(kCloudaware) + "  request_timeout: 1s\n" + kQueries, "t.yml",
      kEnv);
  EXPECT_EQ(short_total.orgs[0].cloudaware.connect_timeout, milliseconds(1000));
  EXPECT_EQ(short_total.orgs[0].cloudaware.read_timeout, milliseconds(1000));

  // The redacted dump loads back as the same bounds.
  Config again = ParseConfig(RedactedYaml(c), "t.yml", kEnv);
  EXPECT_EQ(again.orgs[0].cloudaware.max_response_size, 8 << 20);
  EXPECT_EQ(again.orgs[0].cloudaware.read_timeout, milliseconds(20000));
  EXPECT_EQ(again.orgs[0].queries[1].max_series, 20);
  EXPECT_EQ(again.max_label_value_length, 64u);
}

TEST(ConfigTest, AcceptsApiVersionSpellings) {
  for (const char* version : {"66.0", "\"66.0\"", "v66.0", "'v66.0'"}) {
    Config c = ParseConfig(std::string(kCloudaware) +
                               "  api_version: " + version + "\n" + kQueries,
                           "t.yml", kEnv);
    EXPECT_EQ(c.orgs[0].cloudaware.api_version, "66.0") << version;
  }
}

TEST(ConfigTest, ReadsSecretFileRelativeToConfig) {
  auto dir = TempDir("secret");
  WriteFile(dir / "client_secret", "  s3cret value \n\n");
  std::string yaml = R"(cloudaware:
  url: https://acme.my.salesforce.com
  client_id: exporter
  client_secret_file: client_secret
)" + std::string(kQueries);
  WriteFile(dir / "exporter.yml", yaml);

  Config c = LoadConfig((dir / "exporter.yml").string(), kEnv);
  EXPECT_EQ(c.orgs[0].cloudaware.client_secret.Reveal(), "  s3cret value");
  EXPECT_EQ(c.orgs[0].cloudaware.client_secret_file,
            (dir / "client_secret").string());

  WriteFile(dir / "client_secret", " \n");
  try {
    LoadConfig((dir / "exporter.yml").string(), kEnv);
    FAIL() << "an empty secret file was accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find(
                  "exporter.yml:4:23: cloudaware.client_secret_file: secret "
                  "file " +
                  (dir / "client_secret").string() + " is empty"),
              std::string::npos)
        << e.what();
  }
  std::filesystem::remove_all(dir);
}

// A value: or labels: column that the SELECT list does not produce is
// refused without a network, at the line of the column.
TEST(ConfigTest, RefusesColumnsTheSelectListDoesNotHave) {
  const std::string soql =
      "    soql: SELECT CA10__stateName__c state, COUNT(Id) n FROM "
      "CA10__CaAwsInstance__c GROUP BY CA10__stateName__c\n";
  EXPECT_EQ(
      ErrorOf(std::string(kCloudaware) + "queries:\n  - name: q\n" + soql +
              "    metrics:\n      - name: m\n        value: count\n"),
      "test.yml:10:16: queries[0].metrics[0].value: no column \"count\" "
      "in the SELECT list (it has state, n)");
  EXPECT_EQ(
      ErrorOf(std::string(kCloudaware) + "queries:\n  - name: q\n" + soql +
              "    metrics:\n      - name: m\n        value: n\n"
              "        labels: [state, status]\n"),
      "test.yml:11:25: queries[0].metrics[0].labels[1]: no column "
      "\"status\" for label status in the SELECT list (it has state, n)");
  EXPECT_EQ(
      ErrorOf(std::string(kCloudaware) + "queries:\n  - name: q\n" + soql +
              "    metrics:\n      - name: m\n        value: n\n"
              "        labels: {state: CA10__status__c}\n"),
      "test.yml:11:25: queries[0].metrics[0].labels.state: no column "
      "\"CA10__status__c\" for label state in the SELECT list (it has "
      "state, n)");
  EXPECT_EQ(
      ErrorOf(std::string(kCloudaware) + "queries:\n  - name: q\n" + soql +
              "    metrics:\n      - name: m\n" + "        labels: [state]\n"),
      "test.yml:10:17: queries[0].metrics[0].labels: labels need a "
      "value: column; without value the metric is the query's row "
      "count (totalSize), one series");
  // A grouped path is a column under its last name; SOQL this check cannot
  // read is left to the API.
  EXPECT_EQ(ErrorOf(std::string(kCloudaware) + R"(queries:
  - name: q
    soql: SELECT CA10__account__r.CA10__accountId__c, COUNT(Id) n FROM CA10__CaAwsInstance__c GROUP BY CA10__account__r.CA10__accountId__c
    metrics:
      - {name: m, value: n, labels: {account: CA10__accountId__c}}
  - name: unreadable
    soql: SELECT TYPEOF What WHEN Account THEN Name END FROM Event
    metrics:
      - {name: m2, value: whatever}
)"),
            "");
}

// value: 1 is a constant, not a column: info metrics of a listing query.
TEST(ConfigTest, ANumericValueIsAConstantNotAColumn) {
  const std::string yaml = std::string(kCloudaware) + R"(queries:
  - name: info
    soql: SELECT Id, CA10__instanceId__c FROM CA10__CaAwsInstance__c
    metrics:
      - {name: info, value: 1, labels: {instance_id: CA10__instanceId__c}}
      - {name: other, value: "2.5", labels: {id: Id}}
)";
  EXPECT_EQ(ErrorOf(yaml), "");
  Config c = ParseConfig(yaml, "t.yml", kEnv);
  const auto& metrics = c.orgs[0].queries[0].metrics;
  EXPECT_EQ(metrics[0].constant, 1.0);
  EXPECT_EQ(metrics[1].constant, 2.5);
  // A name is still a column, and checked as one.
  EXPECT_NE(ErrorOf(std::string(kCloudaware) + R"(queries:
  - name: info
    soql: SELECT Id FROM CA10__CaAwsInstance__c
    metrics:
      - {name: info, value: inf, labels: {id: Id}}
)"),
            "");
}

TEST(ConfigTest, LabelsAsListOrMap) {
  std::string yaml = std::string(kCloudaware) + R"(queries:
  - name: by_state
    soql: SELECT CA10__stateName__c, CA10__regionName__c r, COUNT(Id) n FROM CA10__CaAwsInstance__c
    metrics:
      - name: as_list
        value: n
        labels: [CA10__stateName__c, r]
      - name: as_map
        value: n
        labels:
          state: CA10__stateName__c
          region: r
        const_labels: {z: last, a: 1, m: true}
)";
  Config c = ParseConfig(yaml, "t.yml", kEnv);
  const auto& metrics = c.orgs[0].queries[0].metrics;
  EXPECT_EQ(metrics[0].labels,
            (Pairs{{"CA10__stateName__c", "CA10__stateName__c"}, {"r", "r"}}));
  EXPECT_EQ(metrics[1].labels,
            (Pairs{{"state", "CA10__stateName__c"}, {"region", "r"}}));
  EXPECT_EQ(metrics[1].const_labels,
            (Pairs{{"a", "1"}, {"m", "true"}, {"z", "last"}}));
}

TEST(ConfigTest, ExpandsEnvironmentVariables) {
  std::string yaml = R"(cloudaware:
  url: https://${HOST}:8443
  client_id: ${ID}
  client_secret: pa$$word${SUFFIX}
  max_concurrency: ${N}
  request_timeout: ${TIMEOUT}
)" + std::string(kQueries) +
                     R"(        const_labels: {price: $5, literal: "$${HOST}"}
)";
  Config c = ParseConfig(yaml, "t.yml",
                         FakeEnv({{"HOST", "acme.my.salesforce.com"},
                                  {"ID", "client"},
                                  {"SUFFIX", "!"},
                                  {"N", "16"},
                                  {"TIMEOUT", "30s"}}));
  EXPECT_EQ(c.orgs[0].cloudaware.url, "https://acme.my.salesforce.com:8443");
  EXPECT_EQ(c.orgs[0].cloudaware.client_id, "client");
  EXPECT_EQ(c.orgs[0].cloudaware.client_secret.Reveal(), "pa$word!");
  EXPECT_EQ(c.orgs[0].cloudaware.max_concurrency, 16);
  EXPECT_EQ(c.orgs[0].cloudaware.request_timeout, milliseconds(30000));
  EXPECT_EQ(c.orgs[0].queries[0].metrics[0].const_labels,
            (Pairs{{"literal", "${HOST}"}, {"price", "$5"}}));
}

TEST(ConfigTest, RedactedYamlHidesSecretAndLoadsBack) {
  Config c = LoadConfig(kConfigDir + "good.yml", kEnv);
  std::string yaml = RedactedYaml(c);
  EXPECT_EQ(yaml.find(kSecret), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("client_secret: <secret>"), std::string::npos) << yaml;

  Config again = ParseConfig(yaml, c.file, FakeEnv({}));
  EXPECT_EQ(again.orgs[0].cloudaware.client_secret.Reveal(), "<secret>");
  EXPECT_EQ(again.orgs[0].cloudaware.max_concurrency, 8);
  EXPECT_EQ(again.orgs[0].queries[0].interval, milliseconds(600000));
  EXPECT_EQ(again.orgs[0].queries[1].metrics[1].labels,
            c.orgs[0].queries[1].metrics[1].labels);
  EXPECT_EQ(RedactedYaml(again), yaml);
}

TEST(ConfigTest, ReadsQueryFilesRelativeToConfig) {
  auto dir = TempDir("query_files");
  std::filesystem::create_directories(dir / "packs");
  WriteFile(dir / "packs" / "a.yml", R"(queries:
  - name: from_a
    soql: SELECT COUNT() FROM CA10__CaAwsBucket__c
    metrics: [{name: cloudaware_a}]
)");
  WriteFile(dir / "packs" / "b.yml", R"(queries:
  - name: from_b
    soql: SELECT COUNT() FROM CA10__CaAwsVolume__c
    interval: 10m
    stale_after: 30m
    metrics: [{name: cloudaware_b}]
)");
  WriteFile(dir / "exporter.yml",
            std::string(kCloudaware) + kQueries +
                "query_files: [packs/b.yml, 'packs/*.yml']\n");
  // b.yml is named twice: once by name, once through the pattern.
  try {
    LoadConfig((dir / "exporter.yml").string(), kEnv);
    FAIL() << "a query file read twice was accepted";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()),
              (dir / "packs" / "b.yml").string() +
                  ":2:11: queries[0].name: duplicate query name 'from_b' "
                  "(also at " +
                  (dir / "packs" / "b.yml").string() + ": queries[0])");
  }

  WriteFile(dir / "exporter.yml", std::string(kCloudaware) + kQueries +
                                      "query_files: ['packs/*.yml']\n");
  Config c = LoadConfig((dir / "exporter.yml").string(), kEnv);
  ASSERT_EQ(c.orgs.size(), 1u);
  EXPECT_EQ(c.orgs[0].name, "");
  std::vector<std::string> names;
  for (const auto& q : c.orgs[0].queries) names.push_back(q.name);
  EXPECT_EQ(names, (std::vector<std::string>{"aws_ec2_instances", "from_a",
                                             "from_b"}));
  EXPECT_EQ(c.orgs[0].queries[2].interval, milliseconds(600000));
  EXPECT_EQ(c.orgs[0].queries[1].interval, c.default_interval);

  // The dump holds the queries inline and loads back as the same config.
  std::string yaml = RedactedYaml(c);
  EXPECT_EQ(yaml.find("query_files"), std::string::npos) << yaml;
  Config again = ParseConfig(yaml, "again.yml", FakeEnv({}));
  EXPECT_EQ(again.orgs[0].queries.size(), 3u);
  EXPECT_EQ(RedactedYaml(again), yaml);

  // Only query files: no inline queries needed.
  WriteFile(dir / "exporter.yml",
            std::string(kCloudaware) + "query_files: [packs/a.yml]\n");
  EXPECT_EQ(
      LoadConfig((dir / "exporter.yml").string(), kEnv).orgs[0].queries.size(),
      1u);
  std::filesystem::remove_all(dir);
}

TEST(ConfigTest, QueryFileErrorsNameTheQueryFile) {
  auto dir = TempDir("query_file_errors");
  const std::string config = (dir / "exporter.yml").string();
  const std::string pack = (dir / "pack.yml").string();
  auto error_of = [&](const std::string& files, const std::string& text) {
    WriteFile(dir / "pack.yml", text);
    WriteFile(dir / "exporter.yml",
              std::string(kCloudaware) + "query_files: " + files + "\n");
    try {
      LoadConfig(config, kEnv);
    } catch (const ConfigError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  const std::string good =
      "queries:\n  - name: q\n    soql: SELECT COUNT() "
      "FROM X\n    metrics: [{name: m}]\n";
  EXPECT_EQ(error_of("[pack.yml]", good + "    lables: [x]\n"),
            pack +
                ":5:5: queries[0].lables: unknown key 'lables' (known: "
                "name, soql, interval, stale_after, max_series, metrics)");
  EXPECT_EQ(error_of("[pack.yml]", "cloudaware: {}\n"),
            pack +
                ":1:1: cloudaware: unknown key 'cloudaware' (known: "
                "queries)");
  EXPECT_EQ(error_of("[pack.yml]", "queries: [\n"),
            pack + ":2:1: YAML syntax error: end of sequence flow not found");
  EXPECT_EQ(error_of("[missing.yml]", good),
            config + ":5:15: query_files[0]: cannot read query file " +
                (dir / "missing.yml").string() + ": No such file or directory");
  EXPECT_EQ(error_of("['nothing/*.yml']", good),
            config + ":5:15: query_files[0]: no file matches '" +
                (dir / "nothing").string() + "/*.yml'");
  EXPECT_EQ(error_of("[]", good),
            config + ":5:14: query_files: must list at least one file");
  // A query file's metric may not repeat a metric of another file.
  WriteFile(dir / "other.yml",
            "queries:\n  - name: other\n    soql: SELECT "
            "COUNT() FROM Y\n    metrics: [{name: m}]\n");
  EXPECT_EQ(error_of("[pack.yml, other.yml]", good),
            (dir / "other.yml").string() +
                ":4:22: queries[0].metrics[0].name: duplicate metric name "
                "'m' (also at " +
                pack + ": queries[0].metrics[0])");
  std::filesystem::remove_all(dir);
}

constexpr char kTwoOrgs[] = R"(defaults: {interval: 2m}
orgs:
  - name: prod
    cloudaware:
      url: https://acme.my.salesforce.com
      client_id: prod-client
      client_secret: ${CLOUDAWARE_CLIENT_SECRET}
    queries:
      - name: ec2
        soql: SELECT COUNT() FROM CA10__CaAwsInstance__c
        metrics: [{name: cloudaware_ec2}]
  - name: staging-eu.1
    cloudaware:
      url: https://acme--staging.sandbox.my.salesforce.com
      client_id: staging-client
      client_secret: other-secret
      client_auth: basic
    queries:
      - name: ec2
        soql: SELECT COUNT() FROM CA10__CaAwsInstance__c
        interval: 5m
        metrics: [{name: cloudaware_ec2, const_labels: {tier: b}}]
)";

TEST(ConfigTest, ReadsSeveralOrgs) {
  Config c = ParseConfig(kTwoOrgs, "orgs.yml", kEnv);
  ASSERT_EQ(c.orgs.size(), 2u);
  EXPECT_EQ(c.orgs[0].name, "prod");
  EXPECT_EQ(c.orgs[0].cloudaware.client_id, "prod-client");
  EXPECT_EQ(c.orgs[0].cloudaware.client_secret.Reveal(), kSecret);
  EXPECT_EQ(c.orgs[0].queries[0].interval, milliseconds(120000));
  EXPECT_EQ(c.orgs[1].name, "staging-eu.1");
  EXPECT_EQ(c.orgs[1].cloudaware.client_auth, ClientAuth::kBasic);
  // The same query and metric names may recur in another org.
  EXPECT_EQ(c.orgs[1].queries[0].name, "ec2");
  EXPECT_EQ(c.orgs[1].queries[0].interval, milliseconds(300000));

  std::string yaml = RedactedYaml(c);
  EXPECT_EQ(yaml.find(kSecret), std::string::npos) << yaml;
  EXPECT_EQ(yaml.find("other-secret"), std::string::npos) << yaml;
  Config again = ParseConfig(yaml, "orgs.yml", FakeEnv({}));
  ASSERT_EQ(again.orgs.size(), 2u);
  EXPECT_EQ(again.orgs[1].name, "staging-eu.1");
  EXPECT_EQ(again.orgs[1].queries[0].metrics[0].const_labels,
            (Pairs{{"tier", "b"}}));
  EXPECT_EQ(RedactedYaml(again), yaml);
}

TEST(ConfigTest, RejectsBadOrgLists) {
  const std::string org = R"(
  - name: prod
    cloudaware: {url: "https://a.my.salesforce.com", client_id: c, client_secret: s3cr3t-value}
    queries: [{name: q, soql: SELECT COUNT() FROM X, metrics: [{name: m}]}]
)";
  EXPECT_EQ(ErrorOf("orgs:" + org + org),
            "test.yml:6:11: orgs[1].name: duplicate org name 'prod' (also at "
            "orgs[0].name)");
  EXPECT_EQ(ErrorOf(std::string(kCloudaware) + "orgs:" + org),
            "test.yml:2:3: cloudaware: with orgs, each org has its own "
            "cloudaware; move it into the entries of orgs");
  EXPECT_EQ(ErrorOf("orgs: []\n"),
            "test.yml:1:7: orgs: must list at least one org");
  EXPECT_EQ(ErrorOf("orgs:\n  - name: a/b\n"),
            "test.yml:2:11: orgs[0].name: must be 1 to 64 letters, digits, "
            "'_', '-' or '.', not starting with '-' or '.', got 'a/b'");
  EXPECT_EQ(
      ErrorOf("orgs:\n  - name: p\n    cloudaware: {url: "
              "\"https://a.my.salesforce.com\", client_id: c, client_secret: "
              "s3cr3t-value}\n"),
      "test.yml:2:5: orgs[0].queries: is required (or query_files)");
  // The org label is the exporter's once there are orgs, and only then.
  std::string labelled = org;
  labelled.replace(labelled.find("name: m}"), 8,
                   "name: m, const_labels: {org: x}}");
  EXPECT_EQ(ErrorOf("orgs:" + labelled),
            "test.yml:4:89: orgs[0].queries[0].metrics[0].const_labels.org: "
            "the org label is set from the org's name in orgs; pick another "
            "label name");
  EXPECT_EQ(ErrorOf(std::string(kCloudaware) + kQueries +
                    "        const_labels: {org: x}\n"),
            "");
}

TEST(ConfigTest, RedactedYamlShowsSecretFileByPathOnly) {
  auto dir = TempDir("redacted");
  WriteFile(dir / "client_secret", "file-secret-$1\n");
  std::string yaml = R"(cloudaware:
  url: https://acme.my.salesforce.com
  client_id: exporter
  client_secret_file: )" +
                     (dir / "client_secret").string() + "\n" + kQueries +
                     "        const_labels: {note: \"costs $$5\"}\n";
  Config c = ParseConfig(yaml, "t.yml", kEnv);
  std::string redacted = RedactedYaml(c);
  EXPECT_EQ(redacted.find("file-secret"), std::string::npos) << redacted;
  EXPECT_NE(redacted.find((dir / "client_secret").string()), std::string::npos);

  Config again = ParseConfig(redacted, "t.yml", FakeEnv({}));
  EXPECT_EQ(again.orgs[0].cloudaware.client_secret.Reveal(), "file-secret-$1");
  EXPECT_EQ(again.orgs[0].queries[0].metrics[0].const_labels,
            (Pairs{{"note", "costs $5"}}));
  std::filesystem::remove_all(dir);
}

TEST(ConfigTest, SecretPrintsAsPlaceholder) {
  Secret secret("p4ss");
  std::ostringstream out;
  out << secret;
  EXPECT_EQ(out.str(), "<secret>");
  EXPECT_EQ(secret.ToString(), "<secret>");
  EXPECT_EQ(secret.Reveal(), "p4ss");
  EXPECT_FALSE(secret.empty());
  EXPECT_TRUE(Secret().empty());
}

TEST(ConfigTest, NamesUnreadableConfigFile) {
  try {
    LoadConfig(kConfigDir + "no_such.yml", kEnv);
    FAIL() << "a missing file was accepted";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()),
              kConfigDir +
                  "no_such.yml: cannot read config file: No such file or "
                  "directory");
  }
}

// Each file's first line says what is wrong with it. The expected text
// follows the file's path in the message.
TEST(ConfigTest, RejectsBadConfigs) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"missing_url.yml", ":3:3: cloudaware.url: is required"},
      {"login_url.yml",
       ":3:8: cloudaware.url: login.salesforce.com does not work here: the "
       "client credentials flow only works on the org's My Domain URL "
       "(Setup → My Domain), e.g. https://acme.my.salesforce.com"},
      {"bad_scheme.yml",
       ":3:8: cloudaware.url: must start with https:// or http://, got "
       "'ftp://acme.my.salesforce.com'"},
      {"url_path.yml",
       ":3:8: cloudaware.url: must be just scheme://host[:port], without a "
       "path, query or fragment, got "
       "'https://acme.my.salesforce.com/services/oauth2/token'"},
      {"both_secrets.yml",
       ":6:23: cloudaware.client_secret_file: set either client_secret or "
       "client_secret_file, not both"},
      {"no_secret.yml",
       ":3:3: cloudaware.client_secret: is required; set client_secret or "
       "client_secret_file"},
      {"unreadable_secret_file.yml",
       ":5:23: cloudaware.client_secret_file: cannot read secret file " +
           kConfigDir + "bad/no_such.secret: No such file or directory"},
      {"secret_wrong_kind.yml",
       ":5:18: cloudaware.client_secret: must be a string, got a list"},
      {"secret_env_unset.yml",
       ":5:18: cloudaware.client_secret: environment variable NOT_SET is not "
       "set"},
      {"secret_reused.yml",
       ":6:14: cloudaware.proxy_url: must start with https:// or http://, got "
       "'<secret>'"},
      {"secret_alias.yml",
       ":5:18: cloudaware.max_concurrency: must be an integer from 1 to 64, "
       "got '<secret>'"},
      {"bad_client_auth.yml",
       ":6:16: cloudaware.client_auth: must be body or basic, got 'header'"},
      {"bad_api_version.yml",
       ":6:16: cloudaware.api_version: must be an API version such as 66.0, "
       "got 'latest'"},
      {"bad_duration.yml",
       ":7:13: defaults.interval: must be a duration such as 30s, 5m or 1h, "
       "got '5 minutes'"},
      {"max_concurrency_zero.yml",
       ":6:20: cloudaware.max_concurrency: must be an integer from 1 to 64, "
       "got '0'"},
      {"max_concurrency_large.yml",
       ":6:20: cloudaware.max_concurrency: must be an integer from 1 to 64, "
       "got '1000'"},
      {"unknown_top_key.yml",
       ":6:1: default: unknown key 'default' (known: cloudaware, defaults, "
       "queries, query_files, orgs)"},
      {"unknown_nested_key.yml",
       ":16:9: queries[1].metrics[0].lables: unknown key 'lables' (known: "
       "name, help, value, labels, const_labels, expected_values, "
       "keep_seen_for)"},
      {"duplicate_key.yml",
       ":6:3: cloudaware.client_id: duplicate key 'client_id'"},
      {"duplicate_query_name.yml",
       ":11:11: queries[1].name: duplicate query name 'aws_ec2_instances' "
       "(also at queries[0])"},
      {"bad_query_name.yml",
       ":7:11: queries[0].name: must match [a-zA-Z_][a-zA-Z0-9_]*, got "
       "'aws-ec2-instances'"},
      {"empty_queries.yml", ":6:10: queries: must list at least one query"},
      {"queries_map.yml",
       ":7:3: queries: must be a list of queries, got a mapping"},
      {"bad_metric_name.yml",
       ":10:15: queries[0].metrics[0].name: invalid metric name "
       "'cloudaware.aws_ec2_instances': must match [a-zA-Z_:][a-zA-Z0-9_:]*"},
      {"reserved_metric_name.yml",
       ":10:15: queries[0].metrics[0].name: 'cloudaware_up' is reserved for "
       "the exporter's own metrics"},
      {"reserved_metric_prefix.yml",
       ":10:15: queries[0].metrics[0].name: 'cloudaware_exporter_instances' "
       "is reserved for the exporter's own metrics"},
      {"process_metric_name.yml",
       ":10:15: queries[0].metrics[0].name: 'process_instances' is reserved"},
      {"duplicate_metric_name.yml",
       ":14:15: queries[1].metrics[0].name: duplicate metric name "
       "'cloudaware_aws_ec2_instances' (also at queries[0].metrics[0])"},
      {"bad_label_name.yml",
       ":12:18: queries[0].metrics[0].labels.instance-state: invalid label "
       "name 'instance-state': must match [a-zA-Z_][a-zA-Z0-9_]*"},
      {"reserved_label_name.yml",
       ":11:24: queries[0].metrics[0].const_labels.__name__: invalid label "
       "name '__name__': names starting with __ are reserved for Prometheus"},
      {"duplicate_label.yml",
       ":13:24: queries[0].metrics[0].const_labels.cloud: duplicate label "
       "name 'cloud' (also at queries[0].metrics[0].labels[0])"},
      {"stale_before_interval.yml",
       ":10:18: queries[0].stale_after: stale_after (5m) must not be shorter "
       "than interval (10m)"},
      {"stale_from_defaults.yml",
       ":9:15: queries[0].interval: stale_after (15m, from defaults) must not "
       "be shorter than interval (1h)"},
      {"unset_env.yml",
       ":4:14: cloudaware.client_id: environment variable "
       "CLOUDAWARE_CLIENT_ID is not set"},
      {"syntax_error.yml",
       ":12:1: YAML syntax error: end of sequence flow "
       "not found"},
  };
  // The client ID is left out so that unset_env.yml fails.
  EnvLookup env = FakeEnv({{"CLOUDAWARE_CLIENT_SECRET", kSecret}});
  std::set<std::string> tested;
  for (const auto& [file, expected] : cases) {
    std::string path = kConfigDir + "bad/" + file;
    tested.insert(file);
    try {
      LoadConfig(path, env);
      ADD_FAILURE() << file << " was accepted";
    } catch (const ConfigError& e) {
      std::string msg = e.what();
      EXPECT_EQ(msg.rfind(path + expected, 0), 0u)
          << file << "\n  got:  " << msg << "\n  want: " << path << expected;
      EXPECT_EQ(msg.find(kSecret), std::string::npos) << msg;
      EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    }
  }
  for (const auto& entry :
       std::filesystem::directory_iterator(kConfigDir + "bad")) {
    EXPECT_TRUE(tested.count(entry.path().filename().string()))
        << entry.path() << " has no case in this table";
  }
}

TEST(ConfigTest, RejectsOddInputsWithClearMessages) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "test.yml: the config is empty"},
      {"# only a comment\n", "test.yml: the config is empty"},
      {"- a\n- b\n",
       "test.yml:1:1: must be a mapping with the keys "
       "cloudaware, defaults, queries, query_files or orgs, got a list"},
      {std::string(kCloudaware) + kQueries + "---\nx: 1\n",
       "test.yml:11:1: must hold a single YAML document"},
      {std::string(kCloudaware) + "  ? [a]\n  : b\n" + kQueries,
       "test.yml:5:5: cloudaware: keys must be plain strings, got a list"},
      {std::string(kCloudaware) + "  max_concurrency: 99999999999999999999\n" +
           kQueries,
       "cloudaware.max_concurrency: must be an integer from 1 to 64, got "
       "'99999999999999999999'"},
      {std::string(kCloudaware) + "  max_concurrency: -1\n" + kQueries,
       "must be an integer from 1 to 64, got '-1'"},
      {std::string(kCloudaware) + "  request_timeout: 0s\n" + kQueries,
       "cloudaware.request_timeout: must be at least 1ms, got '0s'"},
      {std::string(kCloudaware) + "  max_retries: 11\n" + kQueries,
       "test.yml:5:16: cloudaware.max_retries: must be an integer from 0 to "
       "10, got '11'"},
      {std::string(kCloudaware) + "  max_response_size: 10MB\n" + kQueries,
       "cloudaware.max_response_size: must be a size from 1024 to 4294967296 "
       "bytes (a number, or one ending in KiB, MiB or GiB), got '10MB'"},
      {std::string(kCloudaware) + "  max_response_size: 8GiB\n" + kQueries,
       "cloudaware.max_response_size: must be a size from 1024"},
      {std::string(kCloudaware) + "defaults: {max_series: 0}\n" + kQueries,
       "defaults.max_series: must be an integer from 1 to 1000000, got '0'"},
      {std::string(kCloudaware) + "defaults: {max_label_value_length: 8}\n" +
           kQueries,
       "defaults.max_label_value_length: must be an integer from 16 to 65536, "
       "got '8'"},
      {std::string(kCloudaware) +
           "queries:\n  - name: q\n    soql: x\n    max_series: many\n"
           "    metrics: [{name: m}]\n",
       "queries[0].max_series: must be an integer from 1 to 1000000, got "
       "'many'"},
      {std::string(kCloudaware) + "  proxy_url: http://proxy.example.com\n" +
           kQueries,
       "cloudaware.proxy_url: must include a port"},
      {std::string(kCloudaware) +
           "  proxy_url: http://user:pw@proxy.example.com:3128\n" + kQueries,
       "cloudaware.proxy_url: must not contain user credentials"},
      {std::string(kCloudaware) + "  tls: {ca_file: no_such_ca.pem}\n" +
           kQueries,
       "cloudaware.tls.ca_file: cannot read CA file no_such_ca.pem: No such "
       "file or directory"},
      {std::string(kCloudaware) + "  tls: {insecure_skip_verify: yes}\n" +
           kQueries,
       "cloudaware.tls.insecure_skip_verify: must be true or false, got 'yes'"},
      {std::string(kCloudaware) + "  url: https://x.my.salesforce.com\n",
       "test.yml:5:3: cloudaware.url: duplicate key 'url'"},
      {"cloudaware:\n  client_secret: x\n  url: "
       "https://ACME.Lightning.Force.com/\n",
       "cloudaware.url: acme.lightning.force.com does not work here"},
      {"cloudaware:\n  client_secret: x\n  url: "
       "https://acme--dev.sandbox.my.salesforce-setup.com\n",
       "does not work here"},
      {std::string(kCloudaware) + "defaults: {interval: 500ms}\n" + kQueries,
       "defaults.interval: must be at least 1s, got '500ms'"},
      {"cloudaware:\n  client_secret: x\n  url: http://127.0.0.1:8080\n"
       "  client_id: ${UNCLOSED\n",
       "test.yml:4:14: cloudaware.client_id: '${' without a closing '}'"},
      {"cloudaware:\n  client_secret: ab${1X}\n",
       "cloudaware.client_secret: '${...}' must hold an environment variable "
       "name"},
      {std::string(kCloudaware) + "queries:\n  - name: q\n    soql: x\n",
       "test.yml:6:5: queries[0].metrics: is required"},
      {std::string(kCloudaware) +
           "queries:\n  - name: q\n    soql: x\n    metrics: [{name: m, "
           "value: ''}]\n",
       "queries[0].metrics[0].value: must not be empty"},
      {std::string(kCloudaware) +
           "queries:\n  - name: q\n    soql: x\n    metrics: [{name: m, "
           "labels: state}]\n",
       "queries[0].metrics[0].labels: must be a list of result columns or a "
       "mapping of label: column, got a string"},
      {std::string(kCloudaware) +
           "queries:\n  - name: q\n    soql: x\n    metrics: [{name: m, "
           "labels: [a, a]}]\n",
       "queries[0].metrics[0].labels[1]: duplicate label name 'a' (also at "
       "queries[0].metrics[0].labels[0])"},
      {std::string(kCloudaware) +
           "queries:\n  - name: q\n    soql: x\n    metrics: [{name: m, "
           "labels: [Account.Name]}]\n",
       "queries[0].metrics[0].labels[0]: invalid label name 'Account.Name': "
       "must match [a-zA-Z_][a-zA-Z0-9_]*; to export a column under another "
       "name, write labels as a mapping {label: column}"},
      {std::string(kCloudaware) + "queries: &q\n  - *q\n",
       "queries[0]: must be a mapping, got a list"},
      {std::string(kCloudaware) + "queries:\n  - name: \"a\\u0001b\"\n",
       "queries[0].name: must match [a-zA-Z_][a-zA-Z0-9_]*, got 'a\\x01b'"},
  };
  for (const auto& [yaml, expected] : cases) {
    std::string msg = ErrorOf(yaml);
    EXPECT_NE(msg.find(expected), std::string::npos)
        << "yaml:\n"
        << yaml << "\n  got:  " << msg << "\n  want: " << expected;
  }
}

// Whatever the bytes, the loader either returns a config or throws
// ConfigError; no other exception, crash or hang.
// A query with one metric written as `metric` (a flow mapping), for the
// zero-fill keys.
std::string OneMetric(const std::string& metric,
                      const std::string& query_keys = "") {
  return std::string(kCloudaware) +
         "queries:\n  - name: q\n    soql: SELECT a, b, COUNT(Id) n FROM X "
         "GROUP BY a, b\n" +
         query_keys + "    metrics:\n      - " + metric + "\n";
}

TEST(ConfigTest, ReadsZeroFillKeysAndDumpsThem) {
  Config c = ParseConfig(
      OneMetric("{name: m, value: n, labels: [a, b], keep_seen_for: 24h, "
                "expected_values: {b: [running, \"\", \"null\", \"$$x\"], "
                "a: [\"1\"]}}"),
      "t.yml", kEnv);
  const MetricConfig& metric = c.orgs[0].queries[0].metrics[0];
  using Values = std::vector<std::pair<std::string, std::vector<std::string>>>;
  EXPECT_EQ(metric.expected_values,
            (Values{{"b", {"running", "", "null", "$x"}}, {"a", {"1"}}}));
  EXPECT_EQ(metric.keep_seen_for, std::chrono::hours(24));

  const std::string yaml = RedactedYaml(c);
  EXPECT_NE(yaml.find("keep_seen_for: 1d"), std::string::npos) << yaml;
  Config again = ParseConfig(yaml, "t.yml", kEnv);
  EXPECT_EQ(again.orgs[0].queries[0].metrics[0].expected_values,
            metric.expected_values);
  EXPECT_EQ(again.orgs[0].queries[0].metrics[0].keep_seen_for,
            metric.keep_seen_for);
  EXPECT_EQ(RedactedYaml(again), yaml);

  // Off unless set, and then absent from the dump.
  Config plain =
      ParseConfig(OneMetric("{name: m, value: n, labels: [a]}"), "t.yml", kEnv);
  EXPECT_TRUE(plain.orgs[0].queries[0].metrics[0].expected_values.empty());
  EXPECT_EQ(plain.orgs[0].queries[0].metrics[0].keep_seen_for.count(), 0);
  EXPECT_EQ(RedactedYaml(plain).find("keep_seen_for"), std::string::npos);
  EXPECT_EQ(RedactedYaml(plain).find("expected_values"), std::string::npos);
}

TEST(ConfigTest, RejectsBadZeroFillKeys) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {OneMetric("{name: m, expected_values: {a: [x]}}"),
       "test.yml:9:36: queries[0].metrics[0].expected_values: needs a value "
       "column; without one the metric is the row count, a single series "
       "that never vanishes"},
      {OneMetric("{name: m, keep_seen_for: 1h}"),
       "test.yml:9:34: queries[0].metrics[0].keep_seen_for: needs a value "
       "column"},
      {OneMetric("{name: m, value: n, labels: [a], expected_values: {c: "
                 "[x]}}"),
       "queries[0].metrics[0].expected_values.c: 'c' is not one of the "
       "metric's labels (a)"},
      {OneMetric("{name: m, value: n, expected_values: {c: [x]}}"),
       "queries[0].metrics[0].expected_values.c: 'c' is not one of the "
       "metric's labels (it has none)"},
      {OneMetric("{name: m, value: n, labels: [a], const_labels: {k: v}, "
                 "expected_values: {k: [v]}}"),
       "expected_values.k: 'k' is not one of the metric's labels (a)"},
      {OneMetric("{name: m, value: n, labels: [a], expected_values: {a: "
                 "[]}}"),
       "queries[0].metrics[0].expected_values.a: must list at least one "
       "value"},
      {OneMetric("{name: m, value: n, labels: [a], expected_values: {a: "
                 "[x, y, x]}}"),
       "queries[0].metrics[0].expected_values.a[2]: duplicate value 'x'"},
      {OneMetric("{name: m, value: n, labels: [a], expected_values: {a: "
                 "x}}"),
       "queries[0].metrics[0].expected_values.a: must be a list of label "
       "values, got a string"},
      {OneMetric("{name: m, value: n, labels: [a], expected_values: {a: "
                 "[null]}}"),
       "queries[0].metrics[0].expected_values.a[0]: must be a string, got "
       "nothing"},
      {OneMetric("{name: m, value: n, labels: [a], expected_values: [a]}"),
       "queries[0].metrics[0].expected_values: must be a mapping of label: "
       "[values], got a list"},
      {OneMetric("{name: m, value: n, labels: [a], expected_values: {}}"),
       "queries[0].metrics[0].expected_values: must name at least one label"},
      {OneMetric("{name: m, value: n, labels: [a, b], expected_values: "
                 "{a: [1, 2, 3], b: [x, y]}}",
                 "    max_series: 5\n"),
       "queries[0].metrics[0].expected_values: makes more than max_series "
       "(5) combinations of values"},
      {OneMetric("{name: m, value: n, labels: [a], keep_seen_for: soon}"),
       "queries[0].metrics[0].keep_seen_for: must be a duration such as 30s, "
       "5m or 1h, got 'soon'"},
      {OneMetric("{name: m, value: n, labels: [a], keep_seen_for: 5m}",
                 "    interval: 5m\n"),
       "queries[0].metrics[0].keep_seen_for: keep_seen_for (5m) must be "
       "longer than the query's interval (5m), or a label set is forgotten "
       "before the next run"},
  };
  for (const auto& [yaml, want] : cases) {
    std::string error = ErrorOf(yaml);
    EXPECT_NE(error.find(want), std::string::npos)
        << "got: " << error << "\nwant: " << want;
  }
}

TEST(ConfigTest, SurvivesArbitraryInput) {
  std::ifstream in(kConfigDir + "good.yml", std::ios::binary);
  std::string good((std::istreambuf_iterator<char>(in)), {});
  std::vector<std::string> inputs = {
      std::string(100000, '['),
      std::string(100000, '{'),
      "a: " + std::string(50000, '-'),
      "&a [*a, *a]",
      ",",  // yaml-cpp 0.7's LoadAll() loops forever on this
      "---\n,\n",
      "a: &a {b: *a}\ncloudaware: *a\n",
      "cloudaware: !!binary aGVsbG8=\nqueries: []\n",
      std::string("\0\xff\xfe", 3),
      "queries: [" + std::string(3000, '{') + "]",
      "? - - - a\n",
      "cloudaware: {url: 'https://[::1]:99999999999999999999'}\n",
  };
  // Every prefix and many random byte flips of a good config.
  for (size_t n = 0; n < good.size(); n += 7)
    inputs.push_back(good.substr(0, n));
  std::mt19937 rng(42);
  for (int i = 0; i < 2000; ++i) {
    std::string s = good;
    for (int flips = 0; flips < 3; ++flips) {
      s[rng() % s.size()] = static_cast<char>(rng() % 256);
    }
    inputs.push_back(s);
  }
  for (const std::string& input : inputs) {
    try {
      ParseConfig(input, "fuzz.yml", kEnv);
    } catch (const ConfigError& e) {
      EXPECT_EQ(std::string(e.what()).rfind("fuzz.yml", 0), 0u) << e.what();
      EXPECT_EQ(std::string(e.what()).find(kSecret), std::string::npos)
          << e.what();
    }
  }
}

// README.md's reference is a copy of what the loader's tables render; a
// setting changed in code must be changed there too.
TEST(ConfigTest, ReadmeReferenceMatchesTheSettingsTables) {
  std::ifstream in(README_FILE);
  ASSERT_TRUE(in) << README_FILE;
  std::stringstream readme;
  readme << in.rdbuf();
  const std::string text = readme.str();
  const std::string begin = "<!-- settings-reference:begin -->\n";
  const std::string end = "<!-- settings-reference:end -->";
  const size_t from = text.find(begin);
  const size_t to = text.find(end);
  ASSERT_NE(from, std::string::npos);
  ASSERT_NE(to, std::string::npos);
  ASSERT_LT(from, to);
  const std::string table =
      text.substr(from + begin.size(), to - from - begin.size());
  const std::string expected = SettingsReferenceMarkdown();
  EXPECT_TRUE(table == expected)
      << "README.md's settings table differs; between the markers it "
         "should read:\n"
      << expected;
}

// The reference states the bounds and defaults the loader applies.
TEST(ConfigTest, SettingsReferenceStatesBoundsAndDefaults) {
  const std::string md = SettingsReferenceMarkdown();
  for (const char* row : {
           "| `cloudaware.max_retries` | integer, 0 to 10 | `2` |",
           "| `cloudaware.max_response_size` | bytes, or with KiB, MiB, GiB; "
           "1KiB to 4GiB | `64MiB` |",
           "| `cloudaware.client_auth` | `body` or `basic` | `body` |",
           "| `cloudaware.request_timeout` | duration, at least 1ms | `2m` |",
           "| `cloudaware.read_timeout` | duration, at least 1ms | "
           "`request_timeout` |",
           "| `cloudaware.budget_guard.min_remaining` | share below 100%: "
           "`10%` or `0.1` | `10%` |",
           "| `cloudaware.tls.insecure_skip_verify` | `true` or `false` | "
           "`false` |",
           "| `defaults.interval` | duration, at least 1s | `5m` |",
           "| `defaults.max_label_value_length` | integer, 16 to 65536 | "
           "`1024` |",
           "| `queries[].max_series` | integer, 1 to 1000000 | "
           "`defaults.max_series` |",
       }) {
    EXPECT_NE(md.find(row), std::string::npos) << row << "\nin\n" << md;
  }
  // The nested sections are listed too.
  EXPECT_NE(md.find("| `queries[].metrics[].keep_seen_for` |"),
            std::string::npos);
  EXPECT_NE(md.find("| `orgs[].name` |"), std::string::npos);
}

}  // namespace
}  // namespace cloudaware_exporter
