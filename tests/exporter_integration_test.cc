// The exporter's pieces wired as in main, against the CMDB simulator over
// HTTPS with a throwaway CA: resource gauges against counts made by hand from
// the simulator's inventory, token economy, API calls per cycle, scrapes.
#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "connect_proxy.h"
#include "exporter/app/landing_page.h"
#include "exporter/app/org_pipeline.h"
#include "exporter/app/status_json.h"
#include "exporter/base/log.h"
#include "exporter/cmdb/cmdb_client.h"
#include "exporter/cmdb/http_client.h"
#include "exporter/cmdb/token_source.h"
#include "exporter/config/config.h"
#include "exporter/metrics/self_metrics.h"
#include "exporter/pipeline/collector.h"
#include "exporter/pipeline/poller.h"
#include "exporter/pipeline/result_store.h"
#include "exporter/web/web.h"
#include "exposition_util.h"
#include "simulator/inventory.h"
#include "simulator/simulator.h"
#include "tls_simulator.h"
#include "util/fake_env.h"

namespace cloudaware_exporter {
namespace {

using json = nlohmann::json;
using cmdb_simulator::Inventory;
using cmdb_simulator::Simulator;
using cmdb_simulator::Table;
using cmdb_simulator::Value;

using test_util::Series;

std::string Joined(const Collector& collector) {
  std::string text;
  for (const auto& b : collector.snapshot()->blocks) text += *b;
  return text;
}

std::shared_ptr<const Inventory> TestInventory() {
  static auto inv = [] {
    cmdb_simulator::GenerateOptions options;
    options.records = 10000;  // enough EBS volumes for two query pages
    options.seed = 11;
    return std::make_shared<const Inventory>(Inventory::Generate(options));
  }();
  return inv;
}

std::string Text(const Value& v) {
  return v.is_null() ? "" : std::string(v.text);
}

class ExporterIntegrationTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    certs_ =
        new std::string((std::filesystem::temp_directory_path() /
                         ("exporter-it-certs-" + std::to_string(::getpid())))
                            .string());
    ASSERT_TRUE(test_util::MakeCerts(*certs_));
  }
  static void TearDownTestSuite() {
    std::filesystem::remove_all(*certs_);
    delete certs_;
  }

  void SetUp() override {
    ConfigureLogging(LogLevel::kInfo, LogFormat::kLogfmt, &log_);
    cmdb_simulator::SimulatorOptions options;
    options.inventory = TestInventory();
    options.client_id = "it-client";
    options.client_secret = "it-secret-value";
    sim_ = test_util::StartTlsSimulator(options, *certs_);
  }

  void TearDown() override {
    if (poller_) {
      http_->Stop();
      poller_->Stop();
    }
    poller_.reset();
    api_.reset();
    sim_->Stop();
    ConfigureLogging(LogLevel::kInfo, LogFormat::kLogfmt);
  }

  // Builds the exporter's objects for these queries (YAML under `queries:`),
  // with more `cloudaware:` settings and environment variables if given.
  void Build(const std::string& queries_yaml,
             const std::string& host = "localhost",
             const std::string& more_settings = "",
             std::map<std::string, std::string> env = {}) {
    std::string yaml =
        "cloudaware:\n  url: https://" + host + ":" +
        std::to_string(sim_->port()) +
        "\n  client_id: it-client\n  client_secret: ${SECRET}\n"
        "  tls: {ca_file: " +
        *certs_ + "/ca.pem}\n  max_concurrency: 2\n" + more_settings +
        // A short interval keeps the start-up jitter under a second.
        "defaults: {interval: 5s}\nqueries:\n" + queries_yaml;
    env["SECRET"] = "it-secret-value";
    EnvLookup lookup = test_util::FakeEnv(env);
    config_ = ParseConfig(yaml, "it.yml", lookup);
    api_ = std::make_unique<OrgConnection>(
        config_.orgs[0].cloudaware, metrics_,
        OrgOptions{.tokens = token_options_,
                   .client = client_options_,
                   .limit_pause = client_options_.limit_pause,
                   .env = lookup});
    http_ = &api_->http;
    tokens_ = &api_->tokens;
    client_ = &api_->client;
    poller_ = std::make_unique<Poller>(config_, *client_, collector_, metrics_,
                                       store_);
  }

  int CountLog(const std::string& endpoint) {
    int n = 0;
    for (const json& e : sim_->RequestLog()) n += e["endpoint"] == endpoint;
    return n;
  }
  int CountedCalls() {
    int n = 0;
    for (const json& e : sim_->RequestLog()) n += e["cost"].get<int>();
    return n;
  }

  // How often text occurs in the log.
  size_t Logged(const std::string& text) {
    std::string log = log_.str();
    size_t n = 0;
    for (size_t at = 0; (at = log.find(text, at)) != std::string::npos; ++at)
      ++n;
    return n;
  }

  static TokenSource::Options ShortTokenBackoff() {
    TokenSource::Options o;
    o.min_backoff = std::chrono::milliseconds(300);
    o.max_backoff = std::chrono::milliseconds(600);
    return o;
  }
  static CmdbClient::Options ShortRetries() {
    CmdbClient::Options o;
    o.min_backoff = std::chrono::milliseconds(20);
    o.max_backoff = std::chrono::milliseconds(100);
    o.limit_pause = std::chrono::seconds(1);
    return o;
  }

  static std::string* certs_;
  TokenSource::Options token_options_ = ShortTokenBackoff();
  CmdbClient::Options client_options_ = ShortRetries();
  std::ostringstream log_;
  std::unique_ptr<Simulator> sim_;
  Config config_;
  SelfMetrics metrics_{"test", "test"};
  Collector collector_;
  std::unique_ptr<OrgConnection> api_;
  HttpClient* http_ = nullptr;
  TokenSource* tokens_ = nullptr;
  CmdbClient* client_ = nullptr;
  std::unique_ptr<Poller> poller_;
  ResultStore* store_ = nullptr;  // given to the poller Build makes
};
std::string* ExporterIntegrationTest::certs_ = nullptr;

const char kInventoryQueries[] = R"(
  - name: ec2_by_state
    soql: SELECT CA10__stateName__c state, COUNT(Id) n FROM CA10__CaAwsInstance__c WHERE CA10__disappearanceTime__c = null GROUP BY CA10__stateName__c LIMIT 2000
    metrics:
      - name: cloudaware_aws_ec2_instances
        help: EC2 instances by state.
        value: n
        labels: [state]
        const_labels: {cloud: aws}
  - name: ec2_by_account
    soql: SELECT CA10__account__r.CA10__accountId__c acct, COUNT(Id) n FROM CA10__CaAwsInstance__c WHERE CA10__disappearanceTime__c = null GROUP BY CA10__account__r.CA10__accountId__c LIMIT 2000
    metrics:
      - name: cloudaware_aws_ec2_instances_by_account
        value: n
        labels: {account_id: acct}
  - name: gce_total
    soql: SELECT COUNT() FROM CA10__CaGoogleGceInstance__c WHERE CA10__disappearanceTime__c = null
    metrics:
      - name: cloudaware_gcp_gce_instances_total_live
)";

TEST_F(ExporterIntegrationTest, GaugesEqualCountsFromTheInventory) {
  Build(kInventoryQueries);
  ASSERT_TRUE(poller_->PollOnce()) << log_.str();
  std::string text = Joined(collector_);

  // By hand from the inventory the simulator serves.
  const Table& ec2 = *TestInventory()->FindTable("CA10__CaAwsInstance__c");
  const Table& accounts = *TestInventory()->FindTable("CA10__CaAwsAccount__c");
  std::map<std::string, double> by_state, by_account;
  for (size_t r = 0; r < ec2.rows(); ++r) {
    if (!ec2.column("CA10__disappearanceTime__c").Get(r).is_null()) continue;
    by_state["{cloud=\"aws\",state=\"" +
             Text(ec2.column("CA10__stateName__c").Get(r)) + "\"}"]++;
    Value ref = ec2.column("CA10__account__c").Get(r);
    auto row = ref.is_null() ? std::nullopt : accounts.FindById(ref.text);
    std::string acct =
        row ? Text(accounts.column("CA10__accountId__c").Get(*row)) : "";
    by_account["{account_id=\"" + acct + "\"}"]++;
  }
  ASSERT_TRUE(by_state.count("{cloud=\"aws\",state=\"\"}"))
      << "a null group to check";
  EXPECT_EQ(Series(text, "cloudaware_aws_ec2_instances"), by_state);
  EXPECT_EQ(Series(text, "cloudaware_aws_ec2_instances_by_account"),
            by_account);

  const Table& gce =
      *TestInventory()->FindTable("CA10__CaGoogleGceInstance__c");
  double live = 0;
  for (size_t r = 0; r < gce.rows(); ++r) {
    live += gce.column("CA10__disappearanceTime__c").Get(r).is_null();
  }
  EXPECT_EQ(Series(text, "cloudaware_gcp_gce_instances_total_live"),
            (std::map<std::string, double>{{"", live}}));
}

TEST_F(ExporterIntegrationTest, PagedNonAggregateQuery) {
  Build(R"(
  - name: volume_iops
    soql: SELECT Id, CA10__iops__c FROM CA10__CaAwsVolume__c
    metrics:
      - name: cloudaware_aws_ebs_volume_iops
        value: CA10__iops__c
        labels: {id: Id}
)");
  const Table& ebs = *TestInventory()->FindTable("CA10__CaAwsVolume__c");
  ASSERT_GT(ebs.rows(), 2000u) << "the query must need a second page";
  ASSERT_TRUE(poller_->PollOnce()) << log_.str();
  std::map<std::string, double> expected;
  for (size_t r = 0; r < ebs.rows(); ++r) {
    Value size = ebs.column("CA10__iops__c").Get(r);
    if (size.is_null()) continue;
    expected["{id=\"" + Text(ebs.column("Id").Get(r)) + "\"}"] = size.number;
  }
  EXPECT_EQ(Series(Joined(collector_), "cloudaware_aws_ebs_volume_iops"),
            expected);
  EXPECT_EQ(CountLog("query"), 1);
  EXPECT_EQ(CountLog("query_more"), static_cast<int>((ebs.rows() - 1) / 2000));
}

TEST_F(ExporterIntegrationTest, OneTokenAcrossCyclesAndOneRenewalAfterExpiry) {
  Build(kInventoryQueries);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(poller_->PollOnce()) << log_.str();
  EXPECT_EQ(CountLog("token"), 1);
  EXPECT_EQ(CountedCalls(), 5 * 3) << "one call per query per cycle";

  // The token was accepted, so a 401 now means its session ended, however
  // young it is (see TokenSource::Invalidate).
  sim_->ExpireAllTokens();
  EXPECT_TRUE(poller_->PollOnce())
      << "no query fails when the session expired: " << log_.str();
  EXPECT_EQ(CountLog("token"), 2) << "exactly one new token";
  std::string self = metrics_.Render();
  for (const char* q : {"ec2_by_state", "ec2_by_account", "gce_total"}) {
    EXPECT_EQ(
        Series(
            self,
            "cloudaware_query_success")["{query=\"" + std::string(q) + "\"}"],
        1)
        << q;
  }
}

TEST_F(ExporterIntegrationTest, RejectedCredentialsAreRateLimitedAndRecover) {
  Build(kInventoryQueries);
  ASSERT_TRUE(poller_->PollOnce());
  // The token was accepted, so its refusal below is an end of session, and
  // the renewal is what the rejected credentials fail.
  sim_->AddFaults({{"type", "reject_credentials"}});
  sim_->ExpireAllTokens();
  sim_->ClearRequestLog();

  EXPECT_FALSE(poller_->PollOnce());
  std::string self = metrics_.Render();
  EXPECT_EQ(Series(self, "cloudaware_up")[""], 0);
  EXPECT_EQ(Series(self, "cloudaware_token_valid")[""], 0);
  EXPECT_GE(
      Series(self,
             "cloudaware_token_requests_total")["{result=\"invalid_client\"}"],
      1);
  // Further cycles inside the backoff send no token request at all.
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(poller_->PollOnce());
  EXPECT_EQ(CountLog("token"), 1)
      << "three queries, six cycles, one token request";
  std::string log = log_.str();
  size_t logged = 0;
  for (size_t at = 0;
       (at = log.find("token request failed", at)) != std::string::npos; ++at) {
    ++logged;
  }
  EXPECT_EQ(logged, 1u) << "logged once per change: " << log;
  EXPECT_NE(log.find("result=invalid_client"), std::string::npos) << log;
  EXPECT_NE(log.find("hint=\"the client secret is wrong"), std::string::npos)
      << log;
  EXPECT_EQ(log_.str().find("it-secret-value"), std::string::npos)
      << "secret in the log";

  // Old series are kept (stale_after is 15m) while failing.
  EXPECT_FALSE(
      Series(Joined(collector_), "cloudaware_aws_ec2_instances").empty());

  sim_->ClearFaults();
  bool recovered = false;
  for (int i = 0; i < 20 && !recovered; ++i) {  // backoff is 300-600 ms here
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    recovered = poller_->PollOnce();
  }
  EXPECT_TRUE(recovered) << log_.str();
  self = metrics_.Render();
  EXPECT_EQ(Series(self, "cloudaware_up")[""], 1);
  EXPECT_EQ(Series(self, "cloudaware_token_valid")[""], 1);
  EXPECT_LE(CountLog("token"), 4);
}

TEST_F(ExporterIntegrationTest, ScrapesCostNoApiCallsAndNeverWait) {
  Build(kInventoryQueries);
  ASSERT_TRUE(poller_->PollOnce());
  WebOptions options;
  options.listen_address = "127.0.0.1:0";
  WebHandlers handlers;
  handlers.metrics = [&](bool gzip) {
    return Exposition(*collector_.snapshot(), metrics_.Render(), gzip);
  };
  handlers.landing_page = [] { return std::string("<html></html>"); };
  handlers.ready = [&] { return poller_->ready(); };
  handlers.reload = [] { return std::string(); };
  WebServer web(options, handlers);
  web.Start();
  httplib::Client scraper("127.0.0.1", web.port());

  int calls_before = static_cast<int>(sim_->RequestLog().size());
  for (int i = 0; i < 100; ++i) {
    auto res = scraper.Get("/metrics");
    ASSERT_TRUE(res);
    ASSERT_EQ(res->status, 200);
  }
  EXPECT_EQ(static_cast<int>(sim_->RequestLog().size()), calls_before)
      << "scrapes hit the API";

  // With every query hung in the simulator, scrapes still answer at once.
  sim_->AddFaults({{"endpoint", "query"}, {"type", "hang"}});
  poller_ = std::make_unique<Poller>(config_, *client_, collector_, metrics_);
  poller_->Start();
  for (int i = 0; i < 200 && sim_->Stats()["in_flight"] == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_GT(sim_->Stats()["in_flight"].get<int>(), 0)
      << "a query should be hanging";
  auto start = std::chrono::steady_clock::now();
  auto res = scraper.Get("/metrics");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
  EXPECT_NE(res->body.find("cloudaware_aws_ec2_instances{"), std::string::npos)
      << "the last good series are served";

  // Shutdown aborts the hung request rather than waiting for it.
  start = std::chrono::steady_clock::now();
  http_->Stop();
  poller_->Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  web.Stop();
}

// /status and the landing page, served from the real poller, token source
// and client as main wires them.
class StatusPages {
 public:
  StatusPages(const Config& config, Poller& poller, TokenSource& tokens,
              CmdbClient& client) {
    WebOptions options;
    options.listen_address = "127.0.0.1:0";
    WebHandlers handlers;
    handlers.metrics = [](bool) {
      return std::vector<std::shared_ptr<const std::string>>{};
    };
    handlers.landing_page = [&poller] {
      return RenderLandingPage("test", "/metrics", poller.Status());
    };
    handlers.status = [&] {
      OrgStatus org{.name = "",
                    .url = config.orgs[0].cloudaware.url,
                    .token = tokens.Status(),
                    .api = client.Budget(),
                    .ready = poller.ready(),
                    .queries = poller.Status()};
      return StatusJson({.version = "test",
                         .revision = "r",
                         .start_time = std::chrono::system_clock::now(),
                         .config_file = config.file,
                         .config_yaml = RedactedYaml(config),
                         .orgs = {std::move(org)}})
          .dump(2);
    };
    handlers.ready = [&poller] { return poller.ready(); };
    handlers.reload = [] { return std::string(); };
    web_ = std::make_unique<WebServer>(options, handlers);
    web_->Start();
    client_ = std::make_unique<httplib::Client>("127.0.0.1", web_->port());
  }

  std::string Get(const std::string& path) {
    auto res = client_->Get(path);
    if (!res || res->status != 200) {
      ADD_FAILURE() << "GET " << path << " failed";
      return "";
    }
    return res->body;
  }

 private:
  std::unique_ptr<WebServer> web_;
  std::unique_ptr<httplib::Client> client_;
};

TEST_F(ExporterIntegrationTest, StatusShowsQueriesTokenAndBudgetNoSecrets) {
  sim_->Configure({{"daily_limit", 5000}, {"daily_used", 120}});
  Build(kInventoryQueries);
  StatusPages pages(config_, *poller_, *tokens_, *client_);
  json before = json::parse(pages.Get("/status"));
  json org = before["orgs"][0];
  EXPECT_EQ(org["token"]["held"], false);
  EXPECT_TRUE(org["token"]["obtained"].is_null());
  EXPECT_TRUE(org["api"]["daily_used"].is_null()) << "nothing before an answer";
  for (const json& q : org["queries"]) EXPECT_TRUE(q["last_run"].is_null());

  ASSERT_TRUE(poller_->PollOnce()) << log_.str();
  // The cycle's queries run at once and their answers may be read in any
  // order; one more call makes the last usage the API reported certain.
  client_->Query("SELECT COUNT() FROM CA10__CaAwsInstance__c");
  const std::string access_token = tokens_->Get().access_token;
  ASSERT_FALSE(access_token.empty());

  const std::string body = pages.Get("/status");
  json status = json::parse(body);
  org = status["orgs"][0];
  EXPECT_EQ(org["name"], "");
  EXPECT_EQ(org["url"], config_.orgs[0].cloudaware.url);
  EXPECT_EQ(org["ready"], true);
  EXPECT_EQ(status["config"]["file"], "it.yml");
  EXPECT_NE(status["config"]["yaml"].get<std::string>().find(
                "client_secret: <secret>"),
            std::string::npos);

  const std::string exposition = Joined(collector_);
  const std::map<std::string, std::string> metric_of = {
      {"ec2_by_state", "cloudaware_aws_ec2_instances"},
      {"ec2_by_account", "cloudaware_aws_ec2_instances_by_account"},
      {"gce_total", "cloudaware_gcp_gce_instances_total_live"}};
  ASSERT_EQ(org["queries"].size(), metric_of.size());
  for (const json& q : org["queries"]) {
    const std::string name = q["name"];
    ASSERT_TRUE(metric_of.count(name)) << name;
    const size_t series = Series(exposition, metric_of.at(name)).size();
    EXPECT_GT(series, 0u) << name;
    EXPECT_EQ(q["series"], series) << name;
    // Grouped queries have a row per series; COUNT() has only totalSize.
    EXPECT_EQ(q["rows"], name == "gce_total" ? 0 : series) << name;
    EXPECT_EQ(q["success"], true) << name;
    EXPECT_EQ(q["last_error"], "") << name;
    EXPECT_TRUE(q["last_run"].is_string()) << name;
    EXPECT_TRUE(q["last_success"].is_string()) << name;
    EXPECT_TRUE(q["duration_seconds"].is_number()) << name;
    EXPECT_EQ(q["interval_seconds"], 5) << name;
  }

  json token = org["token"];
  EXPECT_EQ(token["held"], true);
  EXPECT_TRUE(token["obtained"].is_string());
  EXPECT_EQ(token["requests"], 1);
  EXPECT_TRUE(token["last_failure"].is_null());
  EXPECT_EQ(token["backoff"], false);

  json api = org["api"];
  json stats = sim_->Stats();
  EXPECT_EQ(api["daily_limit"], 5000);
  EXPECT_EQ(api["daily_used"], stats["daily_used"]);
  EXPECT_GE(api["daily_used"].get<int>(), 124) << "120 and four calls";
  EXPECT_EQ(api["paused"], false);
  EXPECT_EQ(api["composite_refused"], false);

  std::string landing = pages.Get("/");
  for (const std::string& page : {body, landing}) {
    EXPECT_EQ(page.find("it-secret-value"), std::string::npos) << page;
    EXPECT_EQ(page.find(access_token), std::string::npos) << page;
  }

  // The org now refuses the exporter's secret. A token refused moments
  // after its issue counts as a refusal by itself; let this one age first.
  std::this_thread::sleep_for(token_options_.min_backoff +
                              std::chrono::milliseconds(100));
  sim_->Configure({{"client_secret", "a-rotated-secret"}});
  sim_->ExpireAllTokens();
  EXPECT_FALSE(poller_->PollOnce());

  const std::string failed_body = pages.Get("/status");
  status = json::parse(failed_body);
  token = status["orgs"][0]["token"];
  EXPECT_EQ(token["held"], false);
  EXPECT_TRUE(token["obtained"].is_string()) << "the last token's time stays";
  EXPECT_EQ(token["requests"], 2);
  ASSERT_TRUE(token["last_failure"].is_object()) << failed_body;
  EXPECT_EQ(token["last_failure"]["result"], "invalid_client");
  EXPECT_NE(token["last_failure"]["message"].get<std::string>().find(
                "invalid_client"),
            std::string::npos);
  EXPECT_NE(token["last_failure"]["hint"].get<std::string>().find(
                "the client secret is wrong"),
            std::string::npos);
  EXPECT_TRUE(token["last_failure"]["time"].is_string());
  EXPECT_EQ(token["backoff"], true);
  EXPECT_TRUE(token["backoff_until"].is_string());
  for (const json& q : status["orgs"][0]["queries"]) {
    EXPECT_EQ(q["success"], false) << q["name"];
    EXPECT_EQ(q["last_error"].get<std::string>().rfind("auth: ", 0), 0u)
        << q["last_error"];
    EXPECT_TRUE(q["last_success"].is_string()) << q["name"];
  }

  landing = pages.Get("/");
  EXPECT_NE(landing.find("failed"), std::string::npos);
  for (const std::string& page : {failed_body, landing}) {
    EXPECT_EQ(page.find("it-secret-value"), std::string::npos) << page;
    EXPECT_EQ(page.find("a-rotated-secret"), std::string::npos) << page;
    EXPECT_EQ(page.find(access_token), std::string::npos) << page;
  }
}

// The pages read the poller's, the token source's and the client's state
// while the poller's threads change it (run under TSan in CI).
TEST_F(ExporterIntegrationTest, StatusIsReadWhileThePollerRuns) {
  Build(kInventoryQueries);
  StatusPages pages(config_, *poller_, *tokens_, *client_);
  poller_->Start();
  bool all_ran = false;
  for (int i = 0; i < 200 && !all_ran; ++i) {
    json status = json::parse(pages.Get("/status"), nullptr, false);
    ASSERT_TRUE(status.is_object());
    EXPECT_FALSE(pages.Get("/").empty());
    all_ran = true;
    for (const json& q : status["orgs"][0]["queries"]) {
      all_ran = all_ran && q["last_success"].is_string();
    }
    if (!all_ran) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(all_ran) << log_.str();
}

// A query the API refuses with INVALID_FIELD.
const char kBrokenQuery[] = R"(
  - name: broken
    soql: SELECT Nope__c, COUNT(Id) n FROM CA10__CaAwsInstance__c GROUP BY Nope__c
    metrics:
      - name: cloudaware_broken
        value: n
)";

TEST_F(ExporterIntegrationTest, QueryErrorsAreCountedAndOthersKeepWorking) {
  Build(std::string(kInventoryQueries) + kBrokenQuery);
  EXPECT_FALSE(poller_->PollOnce());
  std::string self = metrics_.Render();
  EXPECT_EQ(Series(self, "cloudaware_query_success")["{query=\"broken\"}"], 0);
  EXPECT_EQ(
      Series(self, "cloudaware_query_success")["{query=\"ec2_by_state\"}"], 1);
  EXPECT_EQ(Series(self, "cloudaware_query_errors_total")
                ["{error=\"INVALID_FIELD\",query=\"broken\"}"],
            1);
  EXPECT_EQ(Series(self, "cloudaware_up")[""], 1)
      << "a bad query does not mean the API is down";
  EXPECT_GT(Series(self, "cloudaware_api_daily_requests_used")[""], 0);
  EXPECT_EQ(Series(self, "cloudaware_api_daily_requests_limit")[""], 100000);
}

TEST_F(ExporterIntegrationTest,
       FailingQueryKeepsSeriesUntilStaleThenDropsThem) {
  Build(R"(
  - name: ec2_by_state
    interval: 1s
    stale_after: 1s
    soql: SELECT CA10__stateName__c state, COUNT(Id) n FROM CA10__CaAwsInstance__c GROUP BY CA10__stateName__c
    metrics:
      - {name: cloudaware_aws_ec2_instances, value: n, labels: [state]}
)");
  ASSERT_TRUE(poller_->PollOnce());
  auto good = Series(Joined(collector_), "cloudaware_aws_ec2_instances");
  ASSERT_FALSE(good.empty());

  sim_->AddFaults({{"endpoint", "query"}, {"type", "error"}, {"status", 503}});
  EXPECT_FALSE(poller_->PollOnce());
  std::string self = metrics_.Render();
  EXPECT_EQ(
      Series(self, "cloudaware_query_success")["{query=\"ec2_by_state\"}"], 0)
      << "failure shows at once";
  EXPECT_EQ(Series(self, "cloudaware_query_errors_total")
                ["{error=\"SERVER_UNAVAILABLE\",query=\"ec2_by_state\"}"],
            1);
  EXPECT_EQ(Series(Joined(collector_), "cloudaware_aws_ec2_instances"), good)
      << "the last good series stay until stale_after";

  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  EXPECT_FALSE(poller_->PollOnce());
  EXPECT_TRUE(
      Series(Joined(collector_), "cloudaware_aws_ec2_instances").empty());
  EXPECT_EQ(Series(metrics_.Render(),
                   "cloudaware_query_series")["{query=\"ec2_by_state\"}"],
            0);
  ASSERT_EQ(poller_->Status().size(), 1u);
  EXPECT_NE(poller_->Status()[0].last_error.find("SERVER_UNAVAILABLE"),
            std::string::npos);

  sim_->ClearFaults();
  EXPECT_TRUE(poller_->PollOnce());
  EXPECT_EQ(Series(Joined(collector_), "cloudaware_aws_ec2_instances"), good);
}

TEST_F(ExporterIntegrationTest, QueriesGoToTheInstanceUrlOfTheTokenResponse) {
  // Sign in at 127.0.0.1; the token response names localhost: the same
  // simulator under another name, both in its certificate.
  const std::string port = std::to_string(sim_->port());
  sim_->Configure({{"instance_url", "https://localhost:" + port}});
  Build(kInventoryQueries, "127.0.0.1");
  ASSERT_TRUE(poller_->PollOnce()) << log_.str();
  std::map<std::string, int> by_endpoint_and_host;
  for (const json& e : sim_->RequestLog()) {
    by_endpoint_and_host[e["endpoint"].get<std::string>() + " " +
                         e["host"].get<std::string>()]++;
  }
  EXPECT_EQ(by_endpoint_and_host,
            (std::map<std::string, int>{{"token 127.0.0.1:" + port, 1},
                                        {"query localhost:" + port, 3}}));
}

TEST_F(ExporterIntegrationTest, TunnelsThroughTheConfiguredProxyOrHttpsProxy) {
  const std::string sim = "localhost:" + std::to_string(sim_->port());
  {
    test_util::ConnectProxy proxy;
    Build(
        kInventoryQueries, "localhost",
        "  proxy_url: http://127.0.0.1:" + std::to_string(proxy.port()) + "\n");
    ASSERT_TRUE(poller_->PollOnce()) << log_.str();
    auto targets = proxy.targets();
    ASSERT_FALSE(targets.empty()) << "nothing went through the proxy";
    for (const auto& t : targets) EXPECT_EQ(t, sim);
    http_->Stop();
  }
  {
    test_util::ConnectProxy proxy;
    Build(
        kInventoryQueries, "localhost", "",
        {{"HTTPS_PROXY", "http://127.0.0.1:" + std::to_string(proxy.port())}});
    ASSERT_TRUE(poller_->PollOnce()) << log_.str();
    EXPECT_FALSE(proxy.targets().empty()) << "HTTPS_PROXY was not used";
    http_->Stop();
  }
  {
    test_util::ConnectProxy proxy;
    Build(kInventoryQueries, "localhost", "",
          {{"HTTPS_PROXY", "http://127.0.0.1:" + std::to_string(proxy.port())},
           {"NO_PROXY", "example.com, localhost"}});
    ASSERT_TRUE(poller_->PollOnce()) << log_.str();
    EXPECT_TRUE(proxy.targets().empty()) << "NO_PROXY was not honoured";
    http_->Stop();
  }
}

TEST_F(ExporterIntegrationTest, AHungApiTimesOutAfterRequestTimeout) {
  Build(kInventoryQueries, "localhost",
        "  request_timeout: 1s\n  max_retries: 0\n");
  ASSERT_TRUE(poller_->PollOnce());
  sim_->AddFaults({{"endpoint", "query"}, {"type", "hang"}});
  auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(poller_->PollOnce());
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  std::string self = metrics_.Render();
  EXPECT_EQ(Series(self, "cloudaware_query_errors_total")
                ["{error=\"timeout\",query=\"ec2_by_state\"}"],
            1)
      << self;
  EXPECT_EQ(Series(self, "cloudaware_up")[""], 0);
  sim_->ClearFaults();
}

const char kOneQuery[] = R"(
  - name: ec2_by_state
    soql: SELECT CA10__stateName__c state, COUNT(Id) n FROM CA10__CaAwsInstance__c GROUP BY CA10__stateName__c
    metrics:
      - {name: cloudaware_aws_ec2_instances, value: n, labels: [state]}
)";

TEST_F(ExporterIntegrationTest, RetriesServerErrorsButNotQueryOrParseErrors) {
  Build(kOneQuery);
  ASSERT_TRUE(poller_->PollOnce());
  struct Case {
    json fault;
    bool ok;
    int requests;  // query requests in the cycle, retries included
    std::string error;
  };
  const std::vector<Case> cases = {
      // Two 503s, then an answer: max_retries (2) is enough.
      {{{"type", "error"}, {"status", 503}, {"times", 2}}, true, 3, ""},
      {{{"type", "html"}, {"status", 502}}, false, 3, "http_502"},
      // A reset of the first, reused connection looks like a stale
      // keep-alive connection, which is retried at once on a new one.
      {{{"type", "reset"}}, false, 4, "network"},
      {{{"type", "error"}, {"status", 400}, {"error_code", "INVALID_FIELD"}},
       false,
       1,
       "INVALID_FIELD"},
      {{{"type", "malformed"}}, false, 1, "parse"},
  };
  for (const Case& c : cases) {
    sim_->ClearFaults();
    json fault = c.fault;
    fault["endpoint"] = "query";
    sim_->AddFaults(fault);
    sim_->ClearRequestLog();
    double before =
        c.error.empty()
            ? 0
            : Series(metrics_.Render(), "cloudaware_query_errors_total")
                  ["{error=\"" + c.error + "\",query=\"ec2_by_state\"}"];
    EXPECT_EQ(poller_->PollOnce(), c.ok) << fault;
    EXPECT_EQ(CountLog("query"), c.requests) << fault;
    if (!c.error.empty()) {
      EXPECT_EQ(
          Series(metrics_.Render(),
                 "cloudaware_query_errors_total")["{error=\"" + c.error +
                                                  "\",query=\"ec2_by_state\"}"],
          before + 1)
          << fault << "\n"
          << metrics_.Render();
    }
  }
  sim_->ClearFaults();
  EXPECT_TRUE(poller_->PollOnce());
}

TEST_F(ExporterIntegrationTest, RequestLimitExceededPausesCallsForACycle) {
  Build(kInventoryQueries);
  ASSERT_TRUE(poller_->PollOnce());
  sim_->AddFaults({{"type", "exhaust_daily_limit"}});
  sim_->ClearRequestLog();

  EXPECT_FALSE(poller_->PollOnce());
  // Two workers may each send one before the first refusal is seen.
  EXPECT_GE(CountLog("query"), 1);
  EXPECT_LE(CountLog("query"), 2);
  std::string self = metrics_.Render();
  for (const char* q : {"ec2_by_state", "ec2_by_account", "gce_total"}) {
    EXPECT_EQ(Series(self, "cloudaware_query_errors_total")
                  [std::string("{error=\"REQUEST_LIMIT_EXCEEDED\",query=\"") +
                   q + "\"}"],
              1)
        << q << "\n"
        << self;
  }
  EXPECT_EQ(Logged("pausing API calls"), 1u) << log_.str();
  EXPECT_EQ(Series(self, "cloudaware_up")[""], 0) << "no call can succeed";

  // Within the pause nothing is sent at all.
  sim_->ClearRequestLog();
  EXPECT_FALSE(poller_->PollOnce());
  EXPECT_EQ(sim_->RequestLog().size(), 0u);
  // /status tells until when.
  std::optional<std::chrono::system_clock::time_point> paused_until =
      client_->Budget().paused_until;
  ASSERT_TRUE(paused_until.has_value());
  EXPECT_GT(*paused_until, std::chrono::system_clock::now());
  EXPECT_LE(*paused_until,
            std::chrono::system_clock::now() + client_options_.limit_pause);

  sim_->ClearFaults();
  sim_->Configure({{"daily_used", 0}});
  bool recovered = false;
  for (int i = 0; i < 40 && !recovered; ++i) {  // the pause is 1 s here
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    recovered = poller_->PollOnce();
  }
  EXPECT_TRUE(recovered) << log_.str();
  EXPECT_FALSE(client_->Budget().paused_until.has_value());
}

TEST_F(ExporterIntegrationTest, TokenRequestsAreCappedPerMinute) {
  // No backoff between token requests: only the cap holds them back.
  token_options_.min_backoff = std::chrono::milliseconds(0);
  token_options_.max_backoff = std::chrono::milliseconds(0);
  token_options_.max_requests_per_minute = 3;
  Build(kOneQuery);
  ASSERT_TRUE(poller_->PollOnce());
  for (int i = 0; i < 6; ++i) {
    sim_->ExpireAllTokens();
    poller_->PollOnce();
  }
  EXPECT_EQ(CountLog("token"), 3) << "one at the start, two renewals";
  std::string self = metrics_.Render();
  EXPECT_EQ(Series(self, "cloudaware_token_valid")[""], 0);
  EXPECT_GE(Series(self, "cloudaware_query_errors_total")
                ["{error=\"auth\",query=\"ec2_by_state\"}"],
            1);
  EXPECT_EQ(Logged("holding back token requests"), 1u) << log_.str();
  ASSERT_EQ(poller_->Status().size(), 1u);
  EXPECT_NE(poller_->Status()[0].last_error.find("limited to 3 a minute"),
            std::string::npos)
      << poller_->Status()[0].last_error;
  // /status shows the cap as a backoff lasting until the oldest of the three
  // requests is a minute old.
  const TokenStatus token = tokens_->Status();
  EXPECT_EQ(token.requests, 3u);
  EXPECT_FALSE(token.held);
  ASSERT_TRUE(token.backoff_until.has_value());
  const auto now = std::chrono::system_clock::now();
  EXPECT_GT(*token.backoff_until, now + std::chrono::seconds(30));
  EXPECT_LE(*token.backoff_until, now + std::chrono::minutes(1));
}

TEST_F(ExporterIntegrationTest, DropsSeriesBeyondMaxSeriesAndCountsThem) {
  Build(R"(
  - name: ec2_by_state
    max_series: 3
    soql: SELECT CA10__stateName__c state, COUNT(Id) n FROM CA10__CaAwsInstance__c GROUP BY CA10__stateName__c
    metrics:
      - {name: cloudaware_aws_ec2_instances, value: n, labels: [state]}
)");
  ASSERT_TRUE(poller_->PollOnce());
  ASSERT_TRUE(poller_->PollOnce());
  std::string self = metrics_.Render();
  auto all = Series(Joined(collector_), "cloudaware_aws_ec2_instances");
  EXPECT_EQ(all.size(), 3u);
  EXPECT_EQ(Series(self, "cloudaware_query_series")["{query=\"ec2_by_state\"}"],
            3);
  // The inventory has 7 states (one of them null): 4 dropped per run.
  EXPECT_EQ(
      Series(
          self,
          "cloudaware_query_series_dropped_total")["{query=\"ec2_by_state\"}"],
      8);
  EXPECT_EQ(Logged("dropped series over max_series"), 1u) << log_.str();
}

// n EC2 instances with distinct names: n groups when grouped by name.
std::shared_ptr<const Inventory> NamedInstances(size_t n) {
  json records = json::array();
  for (size_t i = 0; i < n; ++i) {
    records.push_back(
        {{"Id", "i" + std::to_string(i)}, {"Name", "vm-" + std::to_string(i)}});
  }
  return std::make_shared<const Inventory>(Inventory::FromJson(
      {{"records", {{"CA10__CaAwsInstance__c", records}}}}));
}

const char kByNameQuery[] = R"(
  - name: by_name
    interval: 1s
    stale_after: 1s
    soql: SELECT Name name, COUNT(Id) n FROM CA10__CaAwsInstance__c GROUP BY Name
    metrics:
      - {name: cloudaware_instances_by_name, value: n, labels: [name]}
)";

TEST_F(ExporterIntegrationTest, AggregateAtTheRowCapIsTruncatedThenAgesOut) {
  Build(kByNameQuery);
  auto truncated = [&] {
    return Series(metrics_.Render(), "cloudaware_query_errors_total")
        ["{error=\"truncated\",query=\"by_name\"}"];
  };
  sim_->SetInventory(NamedInstances(1999));
  ASSERT_TRUE(poller_->PollOnce()) << log_.str();
  EXPECT_EQ(Series(Joined(collector_), "cloudaware_instances_by_name").size(),
            1999u);

  // Exactly 2,000 groups come back done, yet may be cut: a failure.
  sim_->SetInventory(NamedInstances(2000));
  EXPECT_FALSE(poller_->PollOnce());
  EXPECT_EQ(truncated(), 1);
  EXPECT_EQ(Series(metrics_.Render(),
                   "cloudaware_query_success")["{query=\"by_name\"}"],
            0);
  EXPECT_EQ(Series(Joined(collector_), "cloudaware_instances_by_name").size(),
            1999u)
      << "the last good series stay until stale_after";

  // Just over: the API refuses at once, or sends 2,000 rows not done.
  sim_->SetInventory(NamedInstances(2001));
  EXPECT_FALSE(poller_->PollOnce());
  EXPECT_EQ(truncated(), 2);
  sim_->Configure({{"aggregate_overflow", "truncate"}});
  EXPECT_FALSE(poller_->PollOnce());
  EXPECT_EQ(truncated(), 3);
  EXPECT_EQ(CountLog("query_more"), 0) << "a cut aggregate is not followed";

  EXPECT_EQ(Logged("msg=\"query failed\""), 1u) << log_.str();
  EXPECT_EQ(Logged("group by fewer or coarser fields, split the query with "
                   "WHERE, or add a HAVING"),
            1u)
      << log_.str();

  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  EXPECT_FALSE(poller_->PollOnce());
  EXPECT_TRUE(
      Series(Joined(collector_), "cloudaware_instances_by_name").empty());

  sim_->SetInventory(NamedInstances(3));
  EXPECT_TRUE(poller_->PollOnce()) << log_.str();
  EXPECT_EQ(Series(Joined(collector_), "cloudaware_instances_by_name").size(),
            3u);
}

TEST_F(ExporterIntegrationTest, CompositeSubrequestAtTheRowCapIsTruncated) {
  Build(std::string(kByNameQuery) + R"(
  - name: total
    soql: SELECT COUNT() FROM CA10__CaAwsInstance__c
    metrics:
      - name: cloudaware_instances_total
)",
        "localhost", "  batching: composite\n");
  sim_->SetInventory(NamedInstances(2000));
  EXPECT_FALSE(poller_->PollOnce());
  EXPECT_EQ(CountLog("composite"), 1);
  std::string self = metrics_.Render();
  EXPECT_EQ(Series(self, "cloudaware_query_errors_total")
                ["{error=\"truncated\",query=\"by_name\"}"],
            1);
  EXPECT_EQ(Series(self, "cloudaware_query_success")["{query=\"total\"}"], 1);
  EXPECT_EQ(Series(Joined(collector_), "cloudaware_instances_total")[""], 2000);
  EXPECT_EQ(Logged("add a HAVING"), 1u) << log_.str();
}

// EC2 instances with the given states, one each.
std::shared_ptr<const Inventory> InstancesInStates(
    const std::vector<std::string>& states) {
  json records = json::array();
  for (size_t i = 0; i < states.size(); ++i) {
    records.push_back(
        {{"Id", "i" + std::to_string(i)}, {"CA10__stateName__c", states[i]}});
  }
  return std::make_shared<const Inventory>(Inventory::FromJson(
      {{"records", {{"CA10__CaAwsInstance__c", records}}}}));
}

TEST_F(ExporterIntegrationTest, ZeroFillKeepsVanishedAndExpectedGroups) {
  Build(R"(
  - name: by_state
    soql: SELECT CA10__stateName__c state, COUNT(Id) n FROM CA10__CaAwsInstance__c GROUP BY CA10__stateName__c
    metrics:
      - {name: cloudaware_kept, value: n, labels: [state], keep_seen_for: 1h}
      - {name: cloudaware_plain, value: n, labels: [state]}
      - name: cloudaware_expected
        value: n
        labels: [state]
        expected_values: {state: [running, stopped, pending]}
)");
  sim_->SetInventory(InstancesInStates({"running", "running", "stopped"}));
  ASSERT_TRUE(poller_->PollOnce()) << log_.str();
  std::string text = Joined(collector_);
  using Map = std::map<std::string, double>;
  EXPECT_EQ(Series(text, "cloudaware_kept"),
            (Map{{"{state=\"running\"}", 2}, {"{state=\"stopped\"}", 1}}));
  EXPECT_EQ(Series(text, "cloudaware_plain"),
            (Map{{"{state=\"running\"}", 2}, {"{state=\"stopped\"}", 1}}));
  EXPECT_EQ(Series(text, "cloudaware_expected"),
            (Map{{"{state=\"running\"}", 2},
                 {"{state=\"stopped\"}", 1},
                 {"{state=\"pending\"}", 0}}))
      << "an expected value never present exports 0 from the first cycle";
  EXPECT_EQ(Series(metrics_.Render(),
                   "cloudaware_query_series")["{query=\"by_state\"}"],
            7);

  // The last stopped instance is deleted.
  sim_->SetInventory(InstancesInStates({"running", "running"}));
  ASSERT_TRUE(poller_->PollOnce()) << log_.str();
  text = Joined(collector_);
  EXPECT_EQ(Series(text, "cloudaware_kept"),
            (Map{{"{state=\"running\"}", 2}, {"{state=\"stopped\"}", 0}}));
  EXPECT_EQ(Series(text, "cloudaware_plain"), (Map{{"{state=\"running\"}", 2}}))
      << "without zero-fill the group vanishes";
  EXPECT_EQ(Series(text, "cloudaware_expected"),
            (Map{{"{state=\"running\"}", 2},
                 {"{state=\"stopped\"}", 0},
                 {"{state=\"pending\"}", 0}}));
  EXPECT_EQ(Series(metrics_.Render(),
                   "cloudaware_query_series")["{query=\"by_state\"}"],
            6);

  // A failed run neither fills nor forgets; a reload forgets.
  sim_->AddFaults({{"endpoint", "query"}, {"type", "error"}, {"status", 400}});
  EXPECT_FALSE(poller_->PollOnce());
  sim_->ClearFaults();
  ASSERT_TRUE(poller_->PollOnce()) << log_.str();
  EXPECT_EQ(
      Series(Joined(collector_), "cloudaware_kept")["{state=\"stopped\"}"], 0);
  poller_ = std::make_unique<Poller>(config_, *client_, collector_, metrics_);
  ASSERT_TRUE(poller_->PollOnce()) << log_.str();
  EXPECT_EQ(Series(Joined(collector_), "cloudaware_kept"),
            (Map{{"{state=\"running\"}", 2}}));
}

TEST_F(ExporterIntegrationTest, AStopDuringAQueryIsNotCountedAsAFailure) {
  Build(kOneQuery);
  ASSERT_TRUE(poller_->PollOnce());
  sim_->AddFaults({{"endpoint", "query"}, {"type", "hang"}});
  poller_->Start();
  bool hung = false;
  for (int i = 0; i < 200 && !hung; ++i) {  // the first run is within 0.5 s
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    hung = sim_->Stats()["in_flight"].get<int>() > 0;
  }
  ASSERT_TRUE(hung);
  http_->Stop();
  poller_->Stop();
  sim_->ClearFaults();

  std::string self = metrics_.Render();
  EXPECT_TRUE(Series(self, "cloudaware_query_errors_total").empty()) << self;
  EXPECT_EQ(
      Series(self, "cloudaware_query_success")["{query=\"ec2_by_state\"}"], 1);
  EXPECT_EQ(Series(self, "cloudaware_up")[""], 1);
  EXPECT_EQ(Logged("query failed"), 0u) << log_.str();
}

// n queries that count different things, so that each result is its own.
std::string ManyQueries(int n) {
  std::string yaml;
  for (int i = 0; i < n; ++i) {
    const std::string k = std::to_string(i);
    yaml += "  - name: q" + k +
            "\n    soql: SELECT CA10__stateName__c state, COUNT(Id) n FROM "
            "CA10__CaAwsInstance__c WHERE CA10__averageCpuOneWeek__c > " +
            k +
            " GROUP BY CA10__stateName__c LIMIT 2000\n"
            "    metrics:\n      - name: cloudaware_it_q" +
            k + "\n        value: n\n        labels: [state]\n";
  }
  return yaml;
}

TEST_F(ExporterIntegrationTest, CompositeCostsOneCallPerFiveQueries) {
  Build(ManyQueries(12));
  ASSERT_TRUE(poller_->PollOnce()) << log_.str();
  const std::string one_by_one = Joined(collector_);
  EXPECT_EQ(CountLog("query"), 12);
  EXPECT_EQ(CountLog("composite"), 0);
  ASSERT_NE(one_by_one.find("cloudaware_it_q11{"), std::string::npos);

  Build(ManyQueries(12), "localhost", "  batching: composite\n");
  sim_->ClearRequestLog();
  ASSERT_TRUE(poller_->PollOnce()) << log_.str();
  EXPECT_EQ(CountLog("composite"), 3);  // ⌈12/5⌉
  EXPECT_EQ(CountLog("query"), 0);
  EXPECT_EQ(CountedCalls(), 3);
  EXPECT_EQ(Joined(collector_), one_by_one)
      << "a batch must give each query its own result";
  EXPECT_EQ(Series(metrics_.Render(), "cloudaware_api_requests_total")
                ["{code=\"200\",endpoint=\"composite\"}"],
            3);
}

TEST_F(ExporterIntegrationTest, AFailingSubrequestFailsOnlyItsOwnQuery) {
  Build(std::string(kInventoryQueries) + kBrokenQuery, "localhost",
        "  batching: composite\n");
  EXPECT_FALSE(poller_->PollOnce());
  EXPECT_EQ(CountLog("composite"), 1);
  const std::string self = metrics_.Render();
  auto success = Series(self, "cloudaware_query_success");
  EXPECT_EQ(success["{query=\"broken\"}"], 0);
  for (const char* q : {"ec2_by_state", "ec2_by_account", "gce_total"})
    EXPECT_EQ(success[std::string("{query=\"") + q + "\"}"], 1) << q;
  EXPECT_EQ(Series(self, "cloudaware_query_errors_total")
                ["{error=\"INVALID_FIELD\",query=\"broken\"}"],
            1);
  EXPECT_EQ(Series(self, "cloudaware_up")[""], 1);
  EXPECT_EQ(Logged("query failed"), 1u) << log_.str();
}

TEST_F(ExporterIntegrationTest, AFailedCompositeCallFailsItsQueries) {
  Build(ManyQueries(7), "localhost", "  batching: composite\n");
  sim_->AddFaults(
      {{"endpoint", "composite"}, {"type", "error"}, {"status", 503}});
  EXPECT_FALSE(poller_->PollOnce());
  EXPECT_EQ(CountLog("composite"), 2 * 3) << "two batches, each retried twice";
  EXPECT_EQ(CountLog("query"), 0) << "a 5xx is not a refusal of composite";
  const std::string self = metrics_.Render();
  auto errors = Series(self, "cloudaware_query_errors_total");
  for (int i = 0; i < 7; ++i) {
    EXPECT_EQ(errors["{error=\"SERVER_UNAVAILABLE\",query=\"q" +
                     std::to_string(i) + "\"}"],
              1)
        << i << "\n"
        << self;
  }
  EXPECT_EQ(Series(self, "cloudaware_up")[""], 0);
  EXPECT_EQ(Logged("composite requests refused"), 0u);
  sim_->ClearFaults();
  EXPECT_TRUE(poller_->PollOnce()) << log_.str();
}

TEST_F(ExporterIntegrationTest, RefusedCompositeFallsBackToSingleQueries) {
  Build(ManyQueries(6), "localhost", "  batching: composite\n");
  sim_->AddFaults({{"endpoint", "composite"},
                   {"type", "error"},
                   {"status", 404},
                   {"error_code", "NOT_FOUND"},
                   {"message", "The requested resource does not exist"}});
  ASSERT_TRUE(poller_->PollOnce()) << log_.str();
  // Both workers may send their batch before the first refusal is seen.
  const int refused = CountLog("composite");
  EXPECT_GE(refused, 1);
  EXPECT_LE(refused, 2);
  EXPECT_EQ(CountLog("query"), 6);
  ASSERT_TRUE(poller_->PollOnce()) << log_.str();
  EXPECT_EQ(CountLog("composite"), refused) << "composite is not retried";
  EXPECT_EQ(CountLog("query"), 12);
  EXPECT_EQ(Logged("composite requests refused"), 1u) << log_.str();
  EXPECT_NE(log_.str().find("NOT_FOUND"), std::string::npos);
  const std::string self = metrics_.Render();
  EXPECT_EQ(Series(self, "cloudaware_api_composite_fallback")[""], 1);
  EXPECT_TRUE(client_->Budget().composite_refused);
  EXPECT_EQ(Series(self, "cloudaware_up")[""], 1);
  for (const auto& [labels, value] : Series(self, "cloudaware_query_success"))
    EXPECT_EQ(value, 1) << labels;
}

TEST_F(ExporterIntegrationTest, ScheduledCompositeRunsBatchQueriesDueTogether) {
  Build(ManyQueries(7), "localhost", "  batching: composite\n");
  poller_->Start();
  // Start-up jitter is at most a tenth of the 5 s interval.
  for (int i = 0; i < 100 && !poller_->ready(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_TRUE(poller_->ready()) << log_.str();
  http_->Stop();
  poller_->Stop();
  EXPECT_EQ(CountLog("query"), 0);
  EXPECT_EQ(CountLog("composite"), 2) << "7 queries: one batch of 5, one of 2";
}

TEST_F(ExporterIntegrationTest, BudgetGuardStretchesIntervalsAndSaysSo) {
  Build(kInventoryQueries, "localhost",
        "  budget_guard: {min_remaining: 10%, max_stretch: 4}\n");
  sim_->Configure({{"daily_limit", 1000}, {"daily_used", 800}});
  ASSERT_TRUE(poller_->PollOnce());
  EXPECT_EQ(
      Series(metrics_.Render(), "cloudaware_api_budget_stretch_factor")[""], 1);
  EXPECT_EQ(Logged("stretching query intervals"), 0u);

  // 5% left of the 10% to keep: intervals twice as long.
  sim_->Configure({{"daily_used", 950}});
  ASSERT_TRUE(poller_->PollOnce());
  double stretch =
      Series(metrics_.Render(), "cloudaware_api_budget_stretch_factor")[""];
  // The 3 calls leave 49, 48 then 47 of 1000: 2.04 to 2.13.
  EXPECT_GE(stretch, 2.0);
  EXPECT_LT(stretch, 2.2);
  // The exposition writes 16 significant digits, not always a round trip.
  EXPECT_NEAR(client_->Budget().interval_stretch, stretch, 1e-12)
      << "as /status shows";
  EXPECT_EQ(Logged("stretching query intervals"), 1u) << log_.str();
  ASSERT_TRUE(poller_->PollOnce());
  EXPECT_EQ(Logged("stretching query intervals"), 1u) << "logged once";

  // The scheduler plans the next runs with the stretched interval (5 s).
  poller_->Start();
  for (int i = 0; i < 100; ++i) {
    auto status = poller_->Status();
    if (std::all_of(status.begin(), status.end(), [](const auto& q) {
          return q.last_run && !q.running &&
                 q.next_run - *q.last_run > std::chrono::seconds(8);
        })) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  for (const auto& q : poller_->Status()) {
    ASSERT_TRUE(q.last_run) << q.name;
    const double gap =
        std::chrono::duration<double>(q.next_run - *q.last_run).count();
    // The scheduled runs spent a few more calls: at most 2.4.
    EXPECT_GT(gap, 5 * 2.0 - 0.5) << q.name;
    EXPECT_LT(gap, 5 * 2.4 + 1) << q.name;
  }
  http_->Stop();
  poller_->Stop();
  poller_.reset();

  // Back above the threshold: back to 1, logged once.
  Build(kInventoryQueries, "localhost",
        "  budget_guard: {min_remaining: 10%, max_stretch: 4}\n");
  sim_->Configure({{"daily_used", 990}});
  ASSERT_TRUE(poller_->PollOnce());
  EXPECT_EQ(
      Series(metrics_.Render(), "cloudaware_api_budget_stretch_factor")[""], 4)
      << "capped at max_stretch";
  sim_->Configure({{"daily_used", 0}});
  ASSERT_TRUE(poller_->PollOnce());
  EXPECT_EQ(
      Series(metrics_.Render(), "cloudaware_api_budget_stretch_factor")[""], 1);
  EXPECT_EQ(Logged("query intervals back to normal"), 1u) << log_.str();
}

// A directory for --storage.path, removed at the end of the test.
struct StoreDir {
  StoreDir()
      : path(
            std::filesystem::temp_directory_path() /
            ("exporter-it-store-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name())) {
    std::filesystem::remove_all(path);
  }
  ~StoreDir() { std::filesystem::remove_all(path); }
  std::filesystem::path path;
};

// What a restarted exporter starts with: its own collector and self metrics,
// the same store and simulator.
struct Restarted {
  Restarted(const Config& config, CmdbClient& client, ResultStore& store)
      : poller(config, client, collector, metrics, &store) {}
  SelfMetrics metrics{"test", "test"};
  Collector collector;
  Poller poller;
};

double SelfSeries(const SelfMetrics& metrics, const std::string& metric,
                  const std::string& query) {
  return Series(metrics.Render(), metric)["{query=\"" + query + "\"}"];
}

TEST_F(ExporterIntegrationTest, ARestartServesStoredResultsWithoutQuerying) {
  StoreDir dir;
  ResultStore store(dir.path.string());
  store_ = &store;
  Build(kInventoryQueries);
  ASSERT_TRUE(poller_->PollOnce()) << log_.str();
  const std::string served = Joined(collector_);
  ASSERT_NE(served.find("cloudaware_gcp_gce_instances_total_live"),
            std::string::npos);

  sim_->ClearRequestLog();
  Restarted restarted(config_, *client_, store);
  EXPECT_EQ(sim_->RequestLog().size(), 0u) << sim_->RequestLog().dump();
  EXPECT_EQ(Joined(restarted.collector), served);
  EXPECT_TRUE(restarted.poller.ready());
  EXPECT_EQ(Logged("restored stored results\" restored=3 queries=3"), 1u)
      << log_.str();
  const std::vector<Poller::QueryStatus> before = poller_->Status();
  const std::vector<Poller::QueryStatus> after = restarted.poller.Status();
  ASSERT_EQ(after.size(), 3u);
  for (size_t i = 0; i < after.size(); ++i) {
    const Poller::QueryStatus& q = after[i];
    ASSERT_TRUE(q.last_success) << q.name;
    EXPECT_TRUE(q.success) << q.name;
    EXPECT_EQ(q.rows, before[i].rows) << q.name;
    EXPECT_EQ(q.series, before[i].series) << q.name;
    // The file keeps milliseconds.
    EXPECT_LT(std::chrono::abs(*q.last_success - *before[i].last_success),
              std::chrono::milliseconds(1))
        << q.name;
    EXPECT_LT(std::chrono::abs(q.next_run - *q.last_success - q.interval),
              std::chrono::milliseconds(50))
        << q.name;
    EXPECT_EQ(SelfSeries(restarted.metrics, "cloudaware_query_success", q.name),
              1);
    EXPECT_NEAR(
        SelfSeries(restarted.metrics,
                   "cloudaware_query_last_success_timestamp_seconds", q.name),
        SelfSeries(metrics_, "cloudaware_query_last_success_timestamp_seconds",
                   q.name),
        0.002);
    EXPECT_EQ(SelfSeries(restarted.metrics, "cloudaware_query_series", q.name),
              static_cast<double>(q.series));
  }

  // Running on its own schedule, it waits out the 5 s interval.
  restarted.poller.Start();
  std::this_thread::sleep_for(std::chrono::seconds(1));
  restarted.poller.Stop();
  EXPECT_EQ(CountLog("query"), 0);
}

TEST_F(ExporterIntegrationTest, AStoredResultPastItsIntervalRunsAtOnce) {
  StoreDir dir;
  ResultStore store(dir.path.string());
  store_ = &store;
  Build(kInventoryQueries);
  ASSERT_TRUE(poller_->PollOnce()) << log_.str();
  // ec2_by_state was stored 8 s ago: past its 5 s interval, within its
  // 15 min stale_after.
  const QueryConfig& q = config_.orgs[0].queries[0];
  auto stored = store.Load(q.name, q.soql);
  ASSERT_TRUE(stored);
  const auto old = stored->time - std::chrono::seconds(8);
  ASSERT_EQ(store.Save(q.name, q.soql, stored->result, old), std::nullopt);

  sim_->ClearRequestLog();
  Restarted restarted(config_, *client_, store);
  EXPECT_TRUE(restarted.poller.ready());
  EXPECT_EQ(Joined(restarted.collector), Joined(collector_));
  auto status = restarted.poller.Status();
  const auto now = std::chrono::system_clock::now();
  EXPECT_LE(status[0].next_run, now + std::chrono::milliseconds(500))
      << "at once, within the start-up spread";
  EXPECT_GT(status[1].next_run, now + std::chrono::seconds(4));
  EXPECT_NEAR(
      SelfSeries(restarted.metrics,
                 "cloudaware_query_last_success_timestamp_seconds", q.name),
      std::chrono::duration<double>(old.time_since_epoch()).count(), 0.002);

  restarted.poller.Start();
  for (int i = 0; i < 100 && CountLog("query") == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  restarted.poller.Stop();
  ASSERT_EQ(CountLog("query"), 1) << sim_->RequestLog().dump();
  // That one call was ec2_by_state's: only its last success moved.
  const auto ran = restarted.poller.Status();
  ASSERT_TRUE(ran[0].last_success && ran[1].last_success);
  EXPECT_GT(*ran[0].last_success, old + std::chrono::seconds(7));
  EXPECT_EQ(ran[1].last_success, status[1].last_success);
}

TEST_F(ExporterIntegrationTest, AChangedOrStaleQueryIsNotRestored) {
  StoreDir dir;
  ResultStore store(dir.path.string());
  store_ = &store;
  Build(kInventoryQueries);
  ASSERT_TRUE(poller_->PollOnce()) << log_.str();
  // gce_total was stored longer ago than its stale_after.
  const QueryConfig& gce = config_.orgs[0].queries[2];
  auto stored = store.Load(gce.name, gce.soql);
  ASSERT_TRUE(stored);
  ASSERT_EQ(store.Save(gce.name, gce.soql, stored->result,
                       stored->time - gce.stale_after),
            std::nullopt);

  Config changed = config_;
  const std::string soql = changed.orgs[0].queries[0].soql;
  changed.orgs[0].queries[0].soql =
      soql.substr(0, soql.rfind("LIMIT")) + "LIMIT 1999";
  Restarted restarted(changed, *client_, store);
  EXPECT_FALSE(restarted.poller.ready());
  const std::string text = Joined(restarted.collector);
  EXPECT_EQ(text.find("cloudaware_aws_ec2_instances{"), std::string::npos);
  EXPECT_EQ(text.find("cloudaware_gcp_gce_instances_total_live"),
            std::string::npos);
  EXPECT_NE(text.find("cloudaware_aws_ec2_instances_by_account{"),
            std::string::npos);
  auto status = restarted.poller.Status();
  EXPECT_FALSE(status[0].last_success);
  EXPECT_TRUE(status[1].last_success);
  EXPECT_FALSE(status[2].last_success);
  EXPECT_EQ(Logged("ignoring the stored result of a changed query\" "
                   "query=ec2_by_state"),
            1u)
      << log_.str();
  EXPECT_EQ(Logged("older than stale_after, not restored\" query=gce_total"),
            1u)
      << log_.str();
  EXPECT_EQ(Logged("restored stored results\" restored=1 queries=3"), 1u);
}

TEST_F(ExporterIntegrationTest, AFailedSaveIsLoggedOnceAndFailsNothing) {
  StoreDir dir;
  ResultStore store(dir.path.string());
  store_ = &store;
  Build(kInventoryQueries);
  std::filesystem::remove_all(dir.path);
  ASSERT_TRUE(poller_->PollOnce()) << log_.str();
  ASSERT_TRUE(poller_->PollOnce()) << log_.str();
  EXPECT_EQ(Logged("level=warn msg=\"cannot save the result\""), 3u)
      << log_.str();
  EXPECT_EQ(Logged("query=ec2_by_state dir=" + dir.path.string()), 1u)
      << log_.str();
  EXPECT_EQ(Series(metrics_.Render(), "cloudaware_query_success").size(), 3u);
  for (const auto& [labels, value] :
       Series(metrics_.Render(), "cloudaware_query_success"))
    EXPECT_EQ(value, 1) << labels;

  std::filesystem::create_directories(dir.path);
  ASSERT_TRUE(poller_->PollOnce()) << log_.str();
  EXPECT_EQ(Logged("saving the result works again"), 3u) << log_.str();
  EXPECT_TRUE(store.Load("gce_total", config_.orgs[0].queries[2].soql));
}

}  // namespace
}  // namespace cloudaware_exporter
