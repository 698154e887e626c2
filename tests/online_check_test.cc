// --config.check.online against the in-process CMDB simulator: a clean
// report, every kind of failure by name, LIMIT 1 on the wire, one describe
// per object, a refused token, and the shipped example config.
#include "exporter/app/online_check.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "exporter/base/log.h"
#include "exporter/cmdb/cmdb_client.h"
#include "exporter/cmdb/http_client.h"
#include "exporter/cmdb/token_source.h"
#include "exporter/config/config.h"
#include "exporter/metrics/self_metrics.h"
#include "simulator/inventory.h"
#include "simulator/simulator.h"
#include "util/simulator.h"

namespace cloudaware_exporter {
namespace {

using json = nlohmann::json;

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

class OnlineCheckTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ConfigureLogging(LogLevel::kError, LogFormat::kLogfmt, &log_);
    sim_ = test_util::StartSimulator(2000, 7, "oc-client", "oc-secret-value");
  }
  void TearDown() override {
    sim_->Stop();
    ConfigureLogging(LogLevel::kInfo, LogFormat::kLogfmt);
  }

  Config Load(const std::string& queries,
              const std::string& secret = "oc-secret-value") {
    std::string yaml = "cloudaware:\n  url: " + sim_->base_url() +
                       "\n  client_id: oc-client\n  client_secret: ${S}\n"
                       "  max_retries: 0\nqueries:\n" +
                       queries;
    return ParseConfig(
        yaml, "oc.yml",
        [secret](const std::string& name) -> std::optional<std::string> {
          if (name == "S") return secret;
          return std::nullopt;
        });
  }

  // Runs the check; the report goes to out_.
  bool Check(const Config& config) {
    out_.str("");
    return CheckOnline(config.orgs[0].cloudaware, config.orgs[0].queries,
                       config.max_label_value_length, out_);
  }

  // The SOQL of every query request, in order.
  std::vector<std::string> SentQueries() {
    std::vector<std::string> out;
    for (const json& e : sim_->RequestLog()) {
      if (e["endpoint"] != "query") continue;
      out.push_back(e["q"].get<std::string>());
    }
    return out;
  }

  // How often each object was described.
  std::map<std::string, int> Described() {
    std::map<std::string, int> out;
    for (const json& e : sim_->RequestLog()) {
      if (e["endpoint"] != "describe") continue;
      std::string path = e["path"].get<std::string>();
      size_t start = path.find("/sobjects/") + 10;
      out[path.substr(start, path.find('/', start) - start)]++;
    }
    return out;
  }

  std::ostringstream log_;
  std::ostringstream out_;
  std::unique_ptr<cmdb_simulator::Simulator> sim_;
};

const char kGoodQueries[] = R"(
  - name: by_state
    soql: SELECT CA10__stateName__c state, COUNT(Id) n FROM CA10__CaAwsInstance__c WHERE CA10__disappearanceTime__c = null GROUP BY CA10__stateName__c LIMIT 2000
    metrics:
      - {name: ec2_by_state, value: n, labels: [state]}
  - name: by_account
    soql: SELECT CA10__account__r.CA10__accountId__c account, MAX(LastModifiedDate) newest FROM CA10__CaAwsInstance__c GROUP BY CA10__account__r.CA10__accountId__c
    metrics:
      - {name: ec2_newest, value: newest, labels: [account]}
  - name: buckets
    soql: SELECT COUNT() FROM CA10__CaAwsBucket__c WHERE CA10__disappearanceTime__c = null
    metrics:
      - {name: s3_buckets}
  - name: rows
    soql: SELECT Name, CA10__account__r.CA10__accountId__c, CA10__iops__c FROM CA10__CaAwsVolume__c ORDER BY Name LIMIT 50 OFFSET 2
    metrics:
      - name: ebs_iops
        value: CA10__iops__c
        labels: {volume: Name, account: CA10__account__r.CA10__accountId__c}
)";

TEST_F(OnlineCheckTest, AllOkAgainstTheSimulator) {
  ASSERT_TRUE(Check(Load(kGoodQueries))) << out_.str();
  std::vector<std::string> lines = Lines(out_.str());
  ASSERT_EQ(lines.size(), 5u) << out_.str();
  EXPECT_EQ(lines[0],
            "OK by_state: CA10__CaAwsInstance__c and 3 fields exist, 1 GROUP "
            "BY field groupable; with LIMIT 1 it ran and gave 1 row, mapped "
            "onto 1 metric");
  EXPECT_EQ(lines[1].rfind("OK by_account: CA10__CaAwsInstance__c and 2 "
                           "fields exist, 1 GROUP BY field groupable",
                           0),
            0u)
      << lines[1];
  EXPECT_EQ(lines[2].rfind("OK buckets: CA10__CaAwsBucket__c and 1 field "
                           "exist; with LIMIT 1 it ran and counted 1",
                           0),
            0u)
      << lines[2];
  EXPECT_EQ(lines[3].rfind("OK rows: ", 0), 0u) << lines[3];
  EXPECT_EQ(lines[4],
            "online check of " + sim_->base_url() + ": 4 of 4 queries OK");

  // Each query ran once, with its LIMIT replaced or added.
  EXPECT_EQ(SentQueries(),
            (std::vector<std::string>{
                "SELECT CA10__stateName__c state, COUNT(Id) n FROM "
                "CA10__CaAwsInstance__c WHERE CA10__disappearanceTime__c = "
                "null GROUP BY CA10__stateName__c LIMIT 1",
                "SELECT CA10__account__r.CA10__accountId__c account, "
                "MAX(LastModifiedDate) newest FROM CA10__CaAwsInstance__c "
                "GROUP BY CA10__account__r.CA10__accountId__c LIMIT 1",
                "SELECT COUNT() FROM CA10__CaAwsBucket__c WHERE "
                "CA10__disappearanceTime__c = null LIMIT 1",
                "SELECT Name, CA10__account__r.CA10__accountId__c, "
                "CA10__iops__c FROM CA10__CaAwsVolume__c ORDER BY Name LIMIT 1 "
                "OFFSET 2"}));
  // Each object once, the account through the relationship.
  EXPECT_EQ(Described(),
            (std::map<std::string, int>{{"CA10__CaAwsAccount__c", 1},
                                        {"CA10__CaAwsBucket__c", 1},
                                        {"CA10__CaAwsInstance__c", 1},
                                        {"CA10__CaAwsVolume__c", 1}}));
  EXPECT_EQ(out_.str().find("oc-secret-value"), std::string::npos);
}

TEST_F(OnlineCheckTest, ReportsEachFailureByName) {
  const std::string queries = std::string(R"(
  - name: unknown_object
    soql: SELECT COUNT() FROM Bogus__c
    metrics: [{name: m0}]
  - name: unknown_field
    soql: SELECT CA10__nope__c s, COUNT(Id) n FROM CA10__CaAwsInstance__c GROUP BY CA10__nope__c
    metrics: [{name: m1, value: n, labels: [s]}]
  - name: unknown_related_field
    soql: SELECT COUNT(Id) n FROM CA10__CaAwsInstance__c WHERE CA10__account__r.CA10__bogus__c = 'x'
    metrics: [{name: m2, value: n}]
  - name: unknown_relationship
    soql: SELECT COUNT(Id) n FROM CA10__CaAwsInstance__c WHERE CA10__acct__r.Name = 'x'
    metrics: [{name: m3, value: n}]
  - name: not_groupable
    soql: SELECT CA10__averageCpuOneWeek__c cpu, COUNT(Id) n FROM CA10__CaAwsInstance__c GROUP BY CA10__averageCpuOneWeek__c
    metrics: [{name: m4, value: n, labels: [cpu]}]
  - name: value_not_a_number
    soql: SELECT CA10__stateName__c state, COUNT(Id) n FROM CA10__CaAwsInstance__c WHERE CA10__stateName__c != null GROUP BY CA10__stateName__c
    metrics: [{name: m7, value: state}]
  - name: refused
    soql: SELECT CA10__stateName__c, COUNT(Id) n FROM CA10__CaAwsInstance__c
    metrics: [{name: m8, value: n, labels: {state: CA10__stateName__c}}]
  - name: unreadable
    soql: SELECT Id FROM CA10__CaAwsInstance__c WHERE Name =
    metrics: [{name: m9, value: Id}]
)") + R"(  - name: fine
    soql: SELECT COUNT() FROM CA10__CaAwsBucket__c
    metrics: [{name: m10}]
)";
  ASSERT_FALSE(Check(Load(queries)));
  std::vector<std::string> lines = Lines(out_.str());
  ASSERT_EQ(lines.size(), 10u) << out_.str();
  EXPECT_EQ(lines[0],
            "FAIL unknown_object: queries[0].soql: unknown object Bogus__c");
  EXPECT_EQ(lines[1],
            "FAIL unknown_field: queries[1].soql: unknown field CA10__nope__c "
            "on CA10__CaAwsInstance__c");
  EXPECT_EQ(lines[2],
            "FAIL unknown_related_field: queries[2].soql: unknown field "
            "CA10__bogus__c on CA10__CaAwsAccount__c (in "
            "CA10__account__r.CA10__bogus__c)");
  EXPECT_EQ(lines[3],
            "FAIL unknown_relationship: queries[3].soql: unknown relationship "
            "CA10__acct__r on CA10__CaAwsInstance__c (in CA10__acct__r.Name)");
  EXPECT_EQ(lines[4],
            "FAIL not_groupable: queries[4].soql: GROUP BY "
            "CA10__averageCpuOneWeek__c: field CA10__averageCpuOneWeek__c of "
            "CA10__CaAwsInstance__c has type double, which is not groupable");
  EXPECT_EQ(lines[5].rfind("FAIL value_not_a_number: queries[5].metrics: m7: "
                           "record 0 column \"state\" is not a number",
                           0),
            0u)
      << lines[5];
  EXPECT_EQ(lines[6].rfind("FAIL refused: queries[6].soql: running it with "
                           "LIMIT 1 failed: HTTP 400: ",
                           0),
            0u)
      << lines[6];
  EXPECT_NE(lines[6].find("grouped or aggregated"), std::string::npos)
      << lines[6];
  EXPECT_EQ(lines[7].rfind("FAIL unreadable: queries[7].soql: cannot read the "
                           "query at character ",
                           0),
            0u)
      << lines[7];
  EXPECT_NE(lines[7].find("expected a value"), std::string::npos) << lines[7];
  EXPECT_EQ(lines[8].rfind("OK fine: ", 0), 0u) << lines[8];
  EXPECT_EQ(lines[9],
            "online check of " + sim_->base_url() + ": 1 of 9 queries OK");

  // Queries naming what describe does not know are not sent.
  EXPECT_EQ(SentQueries().size(), 3u);
  // Bogus__c asked once though no answer came; the instance object once for
  // five queries.
  std::map<std::string, int> described = Described();
  EXPECT_EQ(described["Bogus__c"], 1);
  EXPECT_EQ(described["CA10__CaAwsInstance__c"], 1);
  EXPECT_EQ(described["CA10__CaAwsAccount__c"], 1);
}

TEST_F(OnlineCheckTest, AFailedDescribeFailsTheQueriesOfItsObjectOnly) {
  sim_->AddFaults({{"endpoint", "describe"},
                   {"type", "error"},
                   {"status", 500},
                   {"times", 1}});
  ASSERT_FALSE(Check(Load(kGoodQueries)));
  std::vector<std::string> lines = Lines(out_.str());
  ASSERT_EQ(lines.size(), 5u) << out_.str();
  EXPECT_EQ(lines[0].rfind("FAIL by_state: queries[0].soql: describe "
                           "CA10__CaAwsInstance__c failed: HTTP 500: ",
                           0),
            0u)
      << lines[0];
  // The answer is kept for the run: not asked again for the next query.
  EXPECT_EQ(lines[1].rfind("FAIL by_account: queries[1].soql: describe "
                           "CA10__CaAwsInstance__c failed: ",
                           0),
            0u)
      << lines[1];
  EXPECT_EQ(lines[2].rfind("OK buckets: ", 0), 0u) << lines[2];
  EXPECT_EQ(lines[3].rfind("OK rows: ", 0), 0u) << lines[3];
  EXPECT_EQ(Described()["CA10__CaAwsInstance__c"], 1);
  EXPECT_EQ(SentQueries().size(), 2u);
}

TEST_F(OnlineCheckTest, BadCredentialsGiveTheTokenErrorAndItsHint) {
  ASSERT_FALSE(Check(Load(kGoodQueries, "wrong-secret-value")));
  std::vector<std::string> lines = Lines(out_.str());
  ASSERT_EQ(lines.size(), 2u) << out_.str();
  EXPECT_EQ(lines[0].rfind("FAIL token: token request to " + sim_->base_url() +
                               "/services/oauth2/token failed: HTTP 400: "
                               "invalid_client",
                           0),
            0u)
      << lines[0];
  EXPECT_NE(lines[0].find("(hint: " + OAuthHint("invalid_client", "") + ")"),
            std::string::npos)
      << lines[0];
  EXPECT_EQ(lines[1], "online check of " + sim_->base_url() +
                          ": no token, 4 queries not checked");
  EXPECT_EQ(out_.str().find("wrong-secret-value"), std::string::npos);
  EXPECT_TRUE(SentQueries().empty());
  EXPECT_TRUE(Described().empty());
}

TEST_F(OnlineCheckTest, DescribeIsAnAuthenticatedCountedCall) {
  Config config = Load(kGoodQueries);
  SelfMetrics metrics("test", "test");
  HttpClient http(config.orgs[0].cloudaware, ProcessEnv());
  // Without the backoff for a token refused right after it was issued, so
  // that the renewal below goes through.
  TokenSource::Options token_options;
  token_options.min_backoff = std::chrono::milliseconds(0);
  TokenSource tokens(config.orgs[0].cloudaware, http, metrics, token_options);
  CmdbClient client(config.orgs[0].cloudaware, tokens, http, metrics);
  // An expired session is renewed once, as for queries.
  tokens.Get();
  sim_->ExpireAllTokens();
  json d = client.Describe("ca10__caawsinstance__c");
  EXPECT_EQ(d["name"], "CA10__CaAwsInstance__c");
  EXPECT_TRUE(d["fields"].is_array());
  try {
    client.Describe("Bogus__c");
    ADD_FAILURE() << "no error for an unknown object";
  } catch (const CmdbError& e) {
    EXPECT_EQ(e.status(), 404);
    EXPECT_EQ(e.code(), "NOT_FOUND");
  }
  std::string text = metrics.Render();
  EXPECT_NE(text.find("cloudaware_api_requests_total{code=\"200\",endpoint="
                      "\"describe\"} 1"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("cloudaware_api_requests_total{code=\"401\",endpoint="
                      "\"describe\"} 1"),
            std::string::npos);
  EXPECT_NE(text.find("cloudaware_api_requests_total{code=\"404\",endpoint="
                      "\"describe\"} 1"),
            std::string::npos);
}

// The shipped config, with every query of the packs it pulls in.
TEST_F(OnlineCheckTest, TheShippedConfigPasses) {
  setenv("CLOUDAWARE_URL", sim_->base_url().c_str(), 1);
  setenv("CLOUDAWARE_CLIENT_ID", "oc-client", 1);
  std::string secret_file =
      ::testing::TempDir() + "oc-secret-" + std::to_string(::getpid());
  { std::ofstream(secret_file) << "oc-secret-value\n"; }
  setenv("CLOUDAWARE_CLIENT_SECRET_FILE", secret_file.c_str(), 1);
  {
    Config config = LoadConfig(EXAMPLE_CONFIG);
    const std::vector<QueryConfig>& queries = config.orgs[0].queries;
    ASSERT_GE(queries.size(), 20u);
    sim_->ClearRequestLog();
    out_.str("");
    EXPECT_TRUE(Check(config)) << out_.str();
    std::vector<std::string> lines = Lines(out_.str());
    ASSERT_EQ(lines.size(), queries.size() + 1);
    for (size_t i = 0; i < queries.size(); ++i) {
      EXPECT_EQ(lines[i].rfind("OK " + queries[i].name + ": ", 0), 0u)
          << lines[i];
    }
    for (const auto& [object, n] : Described()) EXPECT_EQ(n, 1) << object;
    for (const std::string& q : SentQueries()) {
      EXPECT_NE(q.find(" LIMIT 1"), std::string::npos) << q;
      EXPECT_EQ(q.find("LIMIT 2000"), std::string::npos) << q;
    }
    EXPECT_EQ(SentQueries().size(), queries.size());
  }
  std::remove(secret_file.c_str());
}

}  // namespace
}  // namespace cloudaware_exporter
