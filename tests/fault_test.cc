// The exporter's pieces wired as in main against the CMDB simulator over
// HTTPS, with /metrics served by the real WebServer. The test runs the
// poller's cycles one at a time (Poller::PollOnce) while it waits, or, where
// timing is what is tested, lets it poll on its own threads (Poller::Start).
// For every fault the simulator can inject: /metrics
// keeps answering, the right error metric moves, the right line is logged
// once, the same poller recovers when the fault clears, the API calls spent
// stay within a budget derived from the exporter's retry and backoff policy,
// and neither the client secret nor the live access token leaks into the
// logs, /metrics or the landing page.
#include <gtest/gtest.h>
#include <httplib.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <ostream>
#include <sstream>
#include <streambuf>
#include <string>
#include <thread>
#include <vector>

#include "exporter/app/landing_page.h"
#include "exporter/app/org_pipeline.h"
#include "exporter/base/log.h"
#include "exporter/cmdb/cmdb_client.h"
#include "exporter/cmdb/http_client.h"
#include "exporter/cmdb/token_source.h"
#include "exporter/config/config.h"
#include "exporter/metrics/self_metrics.h"
#include "exporter/pipeline/collector.h"
#include "exporter/pipeline/poller.h"
#include "exporter/web/web.h"
#include "exposition_util.h"
#include "simulator/inventory.h"
#include "simulator/simulator.h"
#include "tls_simulator.h"
#include "util/fake_env.h"

namespace cloudaware_exporter {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// --- The policy under test, and the API budgets derived from it ----------

// cloudaware.max_retries, left at its default in the test config.
constexpr int kMaxRetries = 2;
// A network error, a timeout or a 5xx answer is retried: a run that fails
// for one spent its first attempt and every retry.
constexpr int kAttemptsPerRetriedFailure = 1 + kMaxRetries;
// A 2xx body that is not JSON is not retried.
constexpr int kAttemptsPerParseFailure = 1;
// HttpClient sends a request once more on a new connection when a reused
// keep-alive connection fails without an answer (a stale connection, as Go's
// client does); a reset looks just like that.
constexpr int kSendsPerAttemptOnReset = 2;
// cloudaware.max_concurrency in the test config.
constexpr int kMaxConcurrency = 2;
// A query fault costs no token request: the token is not at fault.
constexpr int kTokenRequestsPerQueryFault = 0;
// Single flight: one new token after an expiry or a revocation, however many
// queries meet the 401.
constexpr int kTokenRequestsPerRenewal = 1;
// Only requests that already held the old token when the first 401 came
// back are refused, at most one per worker; later ones wait for the new one.
constexpr int kRefusedPerRenewal = kMaxConcurrency;
// TokenSource::Options::max_requests_per_minute (default): the hard cap on
// token requests in any 60 s. Every test here runs well inside a minute, so
// it bounds the exporter's token requests over a whole test, start-up
// included.
constexpr int kTokenRequestsPerMinute = 6;
// Without a token no query is sent; only requests that met the refused
// token's 401 reach the API, at most one per worker.
constexpr int kQueryRequestsWithoutToken = kMaxConcurrency;
// After REQUEST_LIMIT_EXCEEDED nothing is sent for limit_pause, so a pause
// sees only the requests that were past the check when the first refusal came
// back: at most one per worker.
constexpr int kRefusedPerPause = kMaxConcurrency;

// --- Test settings ----------------------------------------------------------

constexpr char kClientId[] = "fault-client";
constexpr char kClientSecret[] = "fault-secret-5b1d9e";
constexpr char kRotatedSecret[] = "fault-rotated-secret-0c7a44f2";
// Short against the 1 s interval so that a latency fault shows in every run,
// far below request_timeout.
constexpr int kLatencyMs = 300;
// The most PollOnce() cycles one wait may take: far more than any wait here
// needs (waiting out a 400 ms token backoff takes some 40).
constexpr int kMaxCycles = 200;

// How a test runs the poller. Most faults need only cycles, which PollOnce()
// gives on the test's thread without waiting out intervals. The schedule
// (Start, 1 s intervals, two workers) is for tests of timing: a request in
// flight when a fault clears, the token cap's window, the pause after
// REQUEST_LIMIT_EXCEEDED.
enum class Drive { kPollOnce, kScheduler };

struct TestQuery {
  const char* name;
  const char* metric;  // one of its resource metrics
};
constexpr TestQuery kQueries[] = {
    {"ec2_by_state", "cloudaware_aws_ec2_instances"},
    {"gce_total", "cloudaware_gcp_gce_instances"},
    {"ebs_total", "cloudaware_aws_ebs_volumes"},
};
constexpr int kQueryCount = static_cast<int>(std::size(kQueries));

constexpr char kQueriesYaml[] = R"(
  - name: ec2_by_state
    soql: SELECT CA10__stateName__c state, COUNT(Id) n FROM CA10__CaAwsInstance__c GROUP BY CA10__stateName__c
    metrics:
      - {name: cloudaware_aws_ec2_instances, value: n, labels: [state]}
  - name: gce_total
    soql: SELECT COUNT() FROM CA10__CaGoogleGceInstance__c
    metrics:
      - {name: cloudaware_gcp_gce_instances}
  - name: ebs_total
    soql: SELECT COUNT() FROM CA10__CaAwsVolume__c
    metrics:
      - {name: cloudaware_aws_ebs_volumes}
)";

// --- Helpers ----------------------------------------------------------------

// The log sink: Log() writes from poller, token and scrape threads while the
// test reads, so every access takes a lock.
class LockedStringBuf : public std::streambuf {
 public:
  std::string str() const {
    std::lock_guard<std::mutex> lock(mu_);
    return text_;
  }

 protected:
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    std::lock_guard<std::mutex> lock(mu_);
    text_.append(s, static_cast<size_t>(n));
    return n;
  }
  int_type overflow(int_type c) override {
    if (!traits_type::eq_int_type(c, traits_type::eof())) {
      std::lock_guard<std::mutex> lock(mu_);
      text_.push_back(traits_type::to_char_type(c));
    }
    return traits_type::not_eof(c);
  }

 private:
  mutable std::mutex mu_;
  std::string text_;
};

using test_util::Series;

double Value(const std::string& text, const std::string& metric,
             const std::string& labels = "") {
  auto series = Series(text, metric);
  auto it = series.find(labels);
  return it == series.end() ? 0 : it->second;
}

std::string Field(const std::string& key, const std::string& value) {
  return key + "=" + value;
}

std::string QueryLabel(const std::string& query) {
  return "{query=\"" + query + "\"}";
}
std::string ErrorLabels(const std::string& query, const std::string& error) {
  return "{error=\"" + error + "\",query=\"" + query + "\"}";
}

// Lines with this msg and every one of these key=value fields.
int CountLines(const std::string& log, const std::string& msg,
               const std::vector<std::string>& fields = {}) {
  int n = 0;
  std::istringstream in(log);
  for (std::string line; std::getline(in, line);) {
    line += ' ';
    if (line.find(" msg=\"" + msg + "\" ") == std::string::npos) continue;
    bool all = true;
    for (const auto& f : fields) {
      all = all && line.find(" " + f + " ") != std::string::npos;
    }
    n += all;
  }
  return n;
}

std::shared_ptr<const cmdb_simulator::Inventory> TestInventory() {
  static auto inv = [] {
    cmdb_simulator::GenerateOptions options;
    options.records = 2000;
    options.seed = 5;
    return std::make_shared<const cmdb_simulator::Inventory>(
        cmdb_simulator::Inventory::Generate(options));
  }();
  return inv;
}

double UnixNow() {
  return std::chrono::duration<double>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// What the test knew when it injected a fault: the request log, the log
// and the metrics up to then.
struct Mark {
  int64_t seq = 0;
  size_t log_offset = 0;
  std::string metrics;
};

class FaultTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new fs::path(fs::temp_directory_path() /
                        ("fault-test-" + std::to_string(::getpid())));
    fs::create_directories(*dir_);
    ASSERT_TRUE(test_util::MakeCerts(*dir_));
  }
  static void TearDownTestSuite() {
    fs::remove_all(*dir_);
    delete dir_;
  }

  void SetUp() override {
    ConfigureLogging(LogLevel::kDebug, LogFormat::kLogfmt, &log_stream_);
    cmdb_simulator::SimulatorOptions options;
    options.inventory = TestInventory();
    options.client_id = kClientId;
    options.client_secret = kClientSecret;
    // A second token request returns the live token: how the test learns the
    // exporter's token, to revoke it and to look for it where it must not be.
    options.reuse_tokens = true;
    sim_ = test_util::StartTlsSimulator(options, *dir_);
    secret_file_ = *dir_ / "client_secret";
    WriteSecret(kClientSecret);
  }

  void TearDown() override {
    StopExporter();
    sim_->Stop();
    if (HasFailure()) {
      std::ostringstream requests;
      for (const json& e : sim_->RequestLog()) {
        requests << e["seq"] << " " << e["time_ms"] << " " << e["host"] << " "
                 << e["endpoint"] << " " << e["status"] << " " << e["fault"]
                 << "\n";
      }
      std::cerr << "log:\n" << log_.str() << "\nrequests:\n" << requests.str();
    }
    ConfigureLogging(LogLevel::kInfo, LogFormat::kLogfmt);
  }

  // Replaces the secret file by a rename, as secret managers do.
  void WriteSecret(const std::string& secret) {
    fs::path tmp = secret_file_.string() + ".tmp";
    std::ofstream(tmp) << secret << "\n";
    fs::rename(tmp, secret_file_);
  }

  // Builds the exporter as main does and serves it; with kScheduler it
  // starts polling. settings: more lines for the `cloudaware:` section.
  void StartExporter(const std::string& settings = "",
                     Drive drive = Drive::kPollOnce) {
    drive_ = drive;
    const std::string yaml =
        "cloudaware:\n  url: https://localhost:" +
        std::to_string(sim_->port()) + "\n  client_id: " + kClientId +
        "\n  client_secret_file: " + secret_file_.string() +
        "\n  tls: {ca_file: " + (*dir_ / "ca.pem").string() +
        "}\n  max_concurrency: " + std::to_string(kMaxConcurrency) + "\n" +
        settings +
        // 1 s keeps the start-up jitter under 100 ms and the cycles quick.
        "defaults: {interval: 1s}\nqueries:\n" + kQueriesYaml;
    // No proxy from the environment of whoever runs the tests.
    EnvLookup no_env = test_util::FakeEnv();
    config_ = ParseConfig(yaml, "fault.yml", no_env);
    ASSERT_EQ(config_.orgs[0].cloudaware.max_retries, kMaxRetries);
    OrgOptions options;
    options.env = no_env;
    options.tokens.min_backoff = milliseconds(200);
    options.tokens.max_backoff = milliseconds(400);
    options.tokens.request_window = token_window_;
    ASSERT_EQ(options.tokens.max_requests_per_minute, kTokenRequestsPerMinute);
    options.client.min_backoff = milliseconds(10);
    options.client.max_backoff = milliseconds(50);
    org_ = std::make_unique<OrgPipeline>(config_, 0, metrics_, collector_,
                                         nullptr, options);
    limit_pause_ = LimitPause(config_, config_.orgs[0]);
    http_ = &org_->api.http;
    tokens_ = &org_->api.tokens;
    client_ = &org_->api.client;
    poller_ = &org_->poller;

    WebOptions web_options;
    web_options.listen_address = "127.0.0.1:0";
    WebHandlers handlers;
    handlers.metrics = [this](bool gzip) {
      return Exposition(*collector_.snapshot(), metrics_.Render(), gzip);
    };
    handlers.landing_page = [this] {
      return RenderLandingPage(CLOUDAWARE_VERSION, "/metrics",
                               poller_->Status());
    };
    handlers.ready = [this] { return poller_->ready(); };
    handlers.reload = [] { return std::string(); };
    web_ = std::make_unique<WebServer>(web_options, handlers);
    web_->Start();
    scraper_ = std::make_unique<httplib::Client>("127.0.0.1", web_->port());
    scraper_->set_connection_timeout(std::chrono::seconds(5));
    scraper_->set_read_timeout(std::chrono::seconds(5));
    if (drive_ == Drive::kScheduler) poller_->Start();
  }

  // As main does on SIGTERM: the web server, then requests in flight, then
  // the poller's threads. graceful: let running queries finish first, so
  // that the stop itself adds no errors to what a test counts.
  void StopExporter(bool graceful = false) {
    if (!web_) return;
    web_->Stop();
    if (graceful) poller_->Stop();
    http_->Stop();
    poller_->Stop();
    scraper_.reset();
    web_.reset();
    org_.reset();
  }

  std::string Get(const std::string& path) {
    auto res = scraper_->Get(path);
    EXPECT_TRUE(res) << path
                     << " did not answer: " << httplib::to_string(res.error());
    if (!res) return "";
    EXPECT_EQ(res->status, 200) << path;
    return res->body;
  }
  std::string Scrape() { return Get("/metrics"); }

  // Scrapes until done(exposition) or the timeout, with one PollOnce()
  // cycle (at most kMaxCycles), or 50 ms of the schedule, between scrapes;
  // every scrape must answer.
  bool WaitFor(const std::string& what,
               const std::function<bool(const std::string&)>& done,
               std::chrono::seconds timeout = std::chrono::seconds(20)) {
    auto deadline = Clock::now() + timeout;
    std::string text;
    for (int cycles = 0; Clock::now() < deadline; ++cycles) {
      text = Scrape();
      if (done(text)) return true;
      if (drive_ == Drive::kScheduler) {
        std::this_thread::sleep_for(milliseconds(50));
        continue;
      }
      if (cycles == kMaxCycles) break;
      poller_->PollOnce();
      // A cycle that fails at once (no token during a backoff) would spin.
      std::this_thread::sleep_for(milliseconds(10));
    }
    ADD_FAILURE() << "timed out waiting for " << what << "\n/metrics:\n"
                  << text << "\nlog:\n"
                  << log_.str();
    return false;
  }

  // Two cycles succeeded, so the API has accepted the token: a 401 for it
  // now means that its session ended, not that it was refused on first use.
  bool WaitSteady() {
    return WaitFor("two good cycles", [&](const std::string& t) {
      for (const auto& q : kQueries) {
        if (Value(t, "cloudaware_query_success", QueryLabel(q.name)) != 1) {
          return false;
        }
      }
      return Requests("query", 200) >= 2 * kQueryCount &&
             Value(t, "cloudaware_up") == 1 &&
             Value(t, "cloudaware_token_valid") == 1;
    });
  }

  // Every query ran successfully after `since` (unix seconds) on the poller
  // started at the beginning: its threads survived the fault.
  bool WaitRecovered(double since,
                     std::chrono::seconds timeout = std::chrono::seconds(20)) {
    return WaitFor(
        "recovery",
        [&](const std::string& t) {
          for (const auto& q : kQueries) {
            if (Value(t, "cloudaware_query_success", QueryLabel(q.name)) != 1 ||
                Value(t, "cloudaware_query_last_success_timestamp_seconds",
                      QueryLabel(q.name)) <= since ||
                Value(t, "cloudaware_query_series", QueryLabel(q.name)) <= 0 ||
                Series(t, q.metric).empty()) {
              return false;
            }
          }
          return Value(t, "cloudaware_up") == 1 &&
                 Value(t, "cloudaware_token_valid") == 1;
        },
        timeout);
  }

  // A token request of the test's own, with the exporter's credentials.
  // With reuse_tokens the answer is the exporter's live token. Sent to
  // 127.0.0.1, while the exporter uses localhost, so that the request log
  // tells the two apart.
  std::string LearnToken(const std::string& secret = kClientSecret) {
    EXPECT_EQ(sim_->Stats()["active_tokens"], 1)
        << "only the exporter's token may be live";
    httplib::Client c("https://127.0.0.1:" + std::to_string(sim_->port()));
    c.set_ca_cert_path((*dir_ / "ca.pem").string());
    auto res = c.Post("/services/oauth2/token",
                      "grant_type=client_credentials&client_id=" +
                          std::string(kClientId) + "&client_secret=" + secret,
                      "application/x-www-form-urlencoded");
    EXPECT_TRUE(res && res->status == 200);
    if (!res || res->status != 200) return "";
    EXPECT_EQ(sim_->Stats()["active_tokens"], 1) << "not the exporter's token";
    return json::parse(res->body).value("access_token", "");
  }

  void Revoke(const std::string& token) {
    httplib::Client c("https://127.0.0.1:" + std::to_string(sim_->port()));
    c.set_ca_cert_path((*dir_ / "ca.pem").string());
    auto res = c.Post("/services/oauth2/revoke", "token=" + token,
                      "application/x-www-form-urlencoded");
    ASSERT_TRUE(res);
    ASSERT_EQ(res->status, 200) << res->body;
  }

  // The simulator's own control API, as an operator would call it.
  void SimConfig(const json& settings) {
    httplib::Client c("https://127.0.0.1:" + std::to_string(sim_->port()));
    c.set_ca_cert_path((*dir_ / "ca.pem").string());
    auto res = c.Post("/_sim/config", settings.dump(), "application/json");
    ASSERT_TRUE(res);
    ASSERT_EQ(res->status, 200) << res->body;
  }

  Mark TakeMark() {
    Mark m;
    json log = sim_->RequestLog();
    if (!log.empty()) m.seq = log.back()["seq"].get<int64_t>();
    m.log_offset = log_.str().size();
    m.metrics = Scrape();
    return m;
  }

  // The exporter's API requests after the mark (not the test's own).
  std::vector<json> ExporterRequests(const Mark& m) {
    std::vector<json> out;
    const std::string own = "127.0.0.1:" + std::to_string(sim_->port());
    for (const json& e : sim_->RequestLog()) {
      if (e["seq"].get<int64_t>() > m.seq && e["host"] != own) {
        out.push_back(e);
      }
    }
    return out;
  }

  // The exporter's requests to an endpoint, with one status if given.
  int Requests(const std::string& endpoint, int status = -1,
               const Mark& since = Mark{}) {
    int n = 0;
    for (const json& e : ExporterRequests(since)) {
      n += e["endpoint"] == endpoint && (status < 0 || e["status"] == status);
    }
    return n;
  }

  std::string LogSince(const Mark& m) {
    return log_.str().substr(m.log_offset);
  }

  // Hung requests are logged by the simulator when they are released.
  void WaitSimulatorIdle() {
    auto deadline = Clock::now() + std::chrono::seconds(20);
    while (sim_->Stats()["in_flight"].get<int>() > 0 &&
           Clock::now() < deadline) {
      std::this_thread::sleep_for(milliseconds(50));
    }
    ASSERT_EQ(sim_->Stats()["in_flight"].get<int>(), 0);
  }

  // Scrapes "/" and /metrics, stops the exporter, and checks that none of
  // these secrets is in them or in the debug log.
  void StopAndCheckSecrets(std::vector<std::string> secrets) {
    secrets.push_back(kClientSecret);
    const std::string landing = Get("/");
    const std::string metrics = Scrape();
    EXPECT_NE(landing.find("ec2_by_state"), std::string::npos) << landing;
    StopExporter(/*graceful=*/true);
    const std::string log = log_.str();
    EXPECT_NE(log.find("level=debug"), std::string::npos)
        << "the debug log was not captured";
    // The logger's redaction is the last line of defence; it should have had
    // nothing to do.
    EXPECT_EQ(log.find("<secret>"), std::string::npos) << log;
    for (const std::string& s : secrets) {
      ASSERT_GE(s.size(), 8u) << "not a secret worth looking for: " << s;
      EXPECT_EQ(log.find(s), std::string::npos) << "in the log: " << s;
      EXPECT_EQ(metrics.find(s), std::string::npos) << "in /metrics: " << s;
      EXPECT_EQ(landing.find(s), std::string::npos) << "on /: " << s;
    }
  }

  // Errors of these codes counted for a query since the mark.
  double ErrorsSince(const Mark& m, const std::string& text,
                     const std::string& query,
                     const std::vector<std::string>& codes) {
    double n = 0;
    for (const auto& c : codes) {
      n += Value(text, "cloudaware_query_errors_total", ErrorLabels(query, c)) -
           Value(m.metrics, "cloudaware_query_errors_total",
                 ErrorLabels(query, c));
    }
    return n;
  }
  // Errors of any code counted for a query since the mark.
  double AllErrorsSince(const Mark& m, const std::string& text,
                        const std::string& query) {
    double n = 0;
    const std::string needle = "query=\"" + query + "\"";
    for (const auto& [labels, v] :
         Series(text, "cloudaware_query_errors_total")) {
      if (labels.find(needle) != std::string::npos) n += v;
    }
    for (const auto& [labels, v] :
         Series(m.metrics, "cloudaware_query_errors_total")) {
      if (labels.find(needle) != std::string::npos) n -= v;
    }
    return n;
  }
  double Delta(const Mark& m, const std::string& text,
               const std::string& metric, const std::string& labels = "") {
    return Value(text, metric, labels) - Value(m.metrics, metric, labels);
  }

  // A fault on the query endpoint; the token stays good.
  struct QueryFault {
    json fault;
    std::string error;     // cloudaware_query_errors_total's `error`
    std::string api_code;  // cloudaware_api_requests_total's `code`
    bool up;               // cloudaware_up while it lasts
    int attempts_per_failure;
    int sends_per_attempt = 1;
    bool charged = false;       // the simulator charges the faulted answers
    std::string settings = "";  // more `cloudaware:` settings
    // The error a run gets instead when the fault clears under it (a hung
    // request is released with a reset).
    std::string release_error = "";
    // kScheduler when the fault must clear under a run in flight.
    Drive drive = Drive::kPollOnce;
  };
  void RunQueryFault(const QueryFault& f);

  // A fault on the token endpoint, met once the live token has expired.
  struct TokenFault {
    json fault;
    std::string result;  // cloudaware_token_requests_total's `result`
    std::string hint;    // the start of the logged hint
  };
  void RunTokenFault(const TokenFault& f);

  // The old token stops working: expiry or revocation.
  void RunRenewal(const std::function<void(const std::string& token)>& fault);

  // A 403 REQUEST_LIMIT_EXCEEDED, cleared by clear().
  void RunLimitFault(const std::function<void()>& inject,
                     const std::string& message,
                     const std::function<void()>& clear);

  static fs::path* dir_;
  LockedStringBuf log_;
  std::ostream log_stream_{&log_};
  std::unique_ptr<cmdb_simulator::Simulator> sim_;
  fs::path secret_file_;
  Config config_;
  milliseconds limit_pause_{0};
  // The token cap's window; a test of the cap shortens it.
  milliseconds token_window_{std::chrono::minutes(1)};
  Drive drive_ = Drive::kPollOnce;
  SelfMetrics metrics_{"test", "test"};
  Collector collector_;
  std::unique_ptr<OrgPipeline> org_;
  HttpClient* http_ = nullptr;
  TokenSource* tokens_ = nullptr;
  CmdbClient* client_ = nullptr;
  Poller* poller_ = nullptr;
  std::unique_ptr<WebServer> web_;
  std::unique_ptr<httplib::Client> scraper_;
};
fs::path* FaultTest::dir_ = nullptr;

void FaultTest::RunQueryFault(const QueryFault& f) {
  ASSERT_NO_FATAL_FAILURE(StartExporter(f.settings, f.drive));
  ASSERT_TRUE(WaitSteady());
  const std::string token = LearnToken();
  const Mark mark = TakeMark();
  const std::string type = f.fault["type"];
  sim_->AddFaults(f.fault);

  // Every query fails, and one of them twice, so that "logged once" means
  // something.
  ASSERT_TRUE(WaitFor("every query to fail with " + f.error, [&](auto& t) {
    double total = 0;
    for (const auto& q : kQueries) {
      double e = ErrorsSince(mark, t, q.name, {f.error});
      if (e < 1 ||
          Value(t, "cloudaware_query_success", QueryLabel(q.name)) != 0) {
        return false;
      }
      total += e;
    }
    return total > kQueryCount && Value(t, "cloudaware_up") == (f.up ? 1 : 0);
  }));
  std::string during = Scrape();
  EXPECT_EQ(Value(during, "cloudaware_token_valid"), 1);
  for (const auto& q : kQueries) {
    EXPECT_FALSE(Series(during, q.metric).empty())
        << q.metric << ": the last good series stay until stale_after";
    EXPECT_GT(Value(during, "cloudaware_query_series", QueryLabel(q.name)), 0);
  }

  const double cleared = UnixNow();
  sim_->ClearFaults();
  ASSERT_TRUE(WaitRecovered(cleared));
  StopAndCheckSecrets({token, LearnToken()});
  WaitSimulatorIdle();

  const std::string self = metrics_.Render();
  const std::string log = LogSince(mark);
  const std::vector<json> requests = ExporterRequests(mark);
  std::vector<std::string> codes = {f.error};
  if (!f.release_error.empty()) codes.push_back(f.release_error);
  // A request hung when the fault clears is released with a reset; on a
  // reused connection the exporter sends it once more and gets an answer, so
  // it is no failed attempt. At most one per worker hangs at the clear.
  const int released = f.release_error.empty() ? 0 : kMaxConcurrency;

  double failures = 0;
  int faulted = 0, cost = 0, tokens = 0;
  for (const json& e : requests) {
    tokens += e["endpoint"] == "token";
    if (e["fault"] != type) continue;
    EXPECT_EQ(e["endpoint"], "query");
    ++faulted;
    cost += e["cost"].get<int>();
  }
  for (const auto& q : kQueries) {
    const double e = ErrorsSince(mark, self, q.name, codes);
    failures += e;
    EXPECT_EQ(AllErrorsSince(mark, self, q.name), e)
        << q.name << ": only " << f.error << " errors";
    EXPECT_EQ(CountLines(log, "query failed",
                         {"level=warn", Field("query", q.name),
                          Field("error", f.error)}),
              1)
        << q.name << " logged once per change:\n"
        << log;
    EXPECT_EQ(CountLines(log, "query recovered",
                         {"level=info", Field("query", q.name)}),
              1)
        << log;
  }
  // The budget: every attempt of each failed run, and all but the last
  // attempt of the runs under way when the fault cleared (one per worker;
  // none when the test runs the cycles).
  const double budget = f.attempts_per_failure * failures +
                        (f.attempts_per_failure - 1) * kMaxConcurrency;
  // Each attempt is one observation in cloudaware_api_requests_total.
  auto api = [&](const std::string& code) {
    return Delta(mark, self, "cloudaware_api_requests_total",
                 "{code=\"" + code + "\",endpoint=\"query\"}");
  };
  if (f.api_code == "200") {
    // Over the whole test: a request is logged by the simulator before the
    // exporter counts it, so a mark may fall between the two.
    EXPECT_EQ(Value(self, "cloudaware_api_requests_total",
                    "{code=\"200\",endpoint=\"query\"}"),
              Requests("query", 200))
        << "one attempt per answer, none resent";
    EXPECT_EQ(faulted, failures) << "not retried";
  } else {
    double attempts = api(f.api_code);
    if (!f.release_error.empty()) attempts += api(f.release_error);
    EXPECT_GE(attempts, f.attempts_per_failure * failures) << "retried";
    EXPECT_LE(attempts, budget);
    EXPECT_GE(faulted, attempts);
    EXPECT_LE(faulted, f.sends_per_attempt * attempts + released);
  }
  EXPECT_EQ(tokens, kTokenRequestsPerQueryFault);
  EXPECT_EQ(cost, f.charged ? faulted : 0) << "daily allocation spent";
  int charged = 0;
  for (const json& e : requests) charged += e["cost"].get<int>();
  EXPECT_EQ(charged, Requests("query", 200, mark))
      << "only answered queries are charged";
  RecordProperty("failed_runs", std::to_string(failures));
  RecordProperty("faulted_requests", std::to_string(faulted));
  RecordProperty("budget", std::to_string(budget));
  EXPECT_EQ(CountLines(log, "token request failed"), 0) << log;
  if (f.attempts_per_failure == 1) {
    EXPECT_EQ(CountLines(log, "retrying API request"), 0) << log;
  }
}

TEST_F(FaultTest, Error500UnknownException) {
  RunQueryFault(
      {.fault = {{"endpoint", "query"}, {"type", "error"}, {"status", 500}},
       .error = "UNKNOWN_EXCEPTION",
       .api_code = "500",
       .up = false,
       .attempts_per_failure = kAttemptsPerRetriedFailure});
}

TEST_F(FaultTest, Error503ServerUnavailable) {
  RunQueryFault(
      {.fault = {{"endpoint", "query"}, {"type", "error"}, {"status", 503}},
       .error = "SERVER_UNAVAILABLE",
       .api_code = "503",
       .up = false,
       .attempts_per_failure = kAttemptsPerRetriedFailure});
}

TEST_F(FaultTest, Html503FromAnEdgeProxy) {
  RunQueryFault(
      {.fault = {{"endpoint", "query"}, {"type", "html"}, {"status", 503}},
       .error = "http_503",
       .api_code = "503",
       .up = false,
       .attempts_per_failure = kAttemptsPerRetriedFailure});
}

TEST_F(FaultTest, Html502FromAnEdgeProxy) {
  RunQueryFault(
      {.fault = {{"endpoint", "query"}, {"type", "html"}, {"status", 502}},
       .error = "http_502",
       .api_code = "502",
       .up = false,
       .attempts_per_failure = kAttemptsPerRetriedFailure});
}

TEST_F(FaultTest, MalformedBodyIsNotRetried) {
  RunQueryFault({.fault = {{"endpoint", "query"}, {"type", "malformed"}},
                 .error = "parse",
                 .api_code = "200",
                 .up = false,
                 .attempts_per_failure = kAttemptsPerParseFailure,
                 .charged = true});
}

TEST_F(FaultTest, TruncatedBodyIsNotRetried) {
  RunQueryFault({.fault = {{"endpoint", "query"}, {"type", "truncated"}},
                 .error = "parse",
                 .api_code = "200",
                 .up = false,
                 .attempts_per_failure = kAttemptsPerParseFailure,
                 .charged = true});
}

TEST_F(FaultTest, ConnectionReset) {
  RunQueryFault({.fault = {{"endpoint", "query"}, {"type", "reset"}},
                 .error = "network",
                 .api_code = "network",
                 .up = false,
                 .attempts_per_failure = kAttemptsPerRetriedFailure,
                 .sends_per_attempt = kSendsPerAttemptOnReset});
}

TEST_F(FaultTest, HangTimesOutAfterRequestTimeout) {
  RunQueryFault({.fault = {{"endpoint", "query"}, {"type", "hang"}},
                 .error = "timeout",
                 .api_code = "timeout",
                 .up = false,
                 .attempts_per_failure = kAttemptsPerRetriedFailure,
                 .settings = "  request_timeout: 1s\n",
                 .release_error = "network",
                 // A request hung when the fault clears: the schedule's.
                 .drive = Drive::kScheduler});
}

TEST_F(FaultTest, LatencyBelowRequestTimeoutIsNoError) {
  ASSERT_NO_FATAL_FAILURE(StartExporter());
  ASSERT_TRUE(WaitSteady());
  const std::string token = LearnToken();
  const Mark mark = TakeMark();
  sim_->AddFaults(
      {{"endpoint", "query"}, {"type", "latency"}, {"ms", kLatencyMs}});
  // Every query ran twice under the latency.
  ASSERT_TRUE(WaitFor("every query to run slowly", [&](auto& t) {
    for (const auto& q : kQueries) {
      if (Value(t, "cloudaware_query_duration_seconds", QueryLabel(q.name)) <
          kLatencyMs / 1000.0) {
        return false;
      }
    }
    int slow = 0;
    for (const json& e : ExporterRequests(mark))
      slow += e["fault"] == "latency";
    return slow >= 2 * kQueryCount;
  }));
  const double cleared = UnixNow();
  sim_->ClearFaults();
  ASSERT_TRUE(WaitRecovered(cleared));
  StopAndCheckSecrets({token});

  const std::string self = metrics_.Render();
  const std::string log = LogSince(mark);
  int slow = 0, tokens = 0;
  for (const json& e : ExporterRequests(mark)) {
    tokens += e["endpoint"] == "token";
    slow += e["fault"] == "latency";
  }
  for (const auto& q : kQueries) {
    EXPECT_EQ(AllErrorsSince(mark, self, q.name), 0) << q.name;
  }
  // No retries: one request per run, all answered (over the whole test, as
  // the simulator logs a request before the exporter counts it).
  EXPECT_EQ(Value(self, "cloudaware_api_requests_total",
                  "{code=\"200\",endpoint=\"query\"}"),
            Requests("query", 200));
  EXPECT_EQ(Requests("query"), Requests("query", 200));
  EXPECT_EQ(tokens, 0);
  EXPECT_GE(Delta(mark, self, "cloudaware_api_request_duration_seconds_sum",
                  "{endpoint=\"query\"}"),
            slow * kLatencyMs / 1000.0)
      << "the duration histogram saw the latency";
  EXPECT_EQ(Value(self, "cloudaware_up"), 1);
  EXPECT_EQ(CountLines(log, "query failed"), 0) << log;
  EXPECT_EQ(CountLines(log, "retrying API request"), 0) << log;
  EXPECT_EQ(log.find("level=warn"), std::string::npos) << log;
  EXPECT_EQ(log.find("level=error"), std::string::npos) << log;
}

void FaultTest::RunRenewal(
    const std::function<void(const std::string& token)>& fault) {
  ASSERT_NO_FATAL_FAILURE(StartExporter());
  ASSERT_TRUE(WaitSteady());
  const std::string old_token = LearnToken();
  const Mark mark = TakeMark();
  const double injected = UnixNow();
  fault(old_token);
  ASSERT_TRUE(WaitFor("a new token after a 401", [&](auto& t) {
    return Delta(mark, t, "cloudaware_token_requests_total",
                 "{result=\"success\"}") >= 1 &&
           Requests("query", 401, mark) >= 1;
  }));
  ASSERT_TRUE(WaitRecovered(injected));
  const std::string new_token = LearnToken();
  EXPECT_NE(new_token, old_token);
  StopAndCheckSecrets({old_token, new_token});

  const std::string self = metrics_.Render();
  const std::string log = LogSince(mark);
  for (const auto& q : kQueries) {
    EXPECT_EQ(AllErrorsSince(mark, self, q.name), 0)
        << q.name << ": a renewal is no error";
  }
  EXPECT_EQ(Delta(mark, self, "cloudaware_token_requests_total",
                  "{result=\"success\"}"),
            kTokenRequestsPerRenewal);
  EXPECT_EQ(Requests("token", -1, mark), kTokenRequestsPerRenewal);
  const int refused = Requests("query", 401, mark);
  EXPECT_GE(refused, 1);
  EXPECT_LE(refused, kRefusedPerRenewal);
  RecordProperty("refused", std::to_string(refused));
  EXPECT_EQ(Delta(mark, self, "cloudaware_api_requests_total",
                  "{code=\"401\",endpoint=\"query\"}"),
            refused);
  int cost = 0, answered = 0;
  for (const json& e : ExporterRequests(mark)) {
    cost += e["cost"].get<int>();
    answered += e["endpoint"] == "query" && e["status"] == 200;
  }
  EXPECT_EQ(cost, answered) << "a refused token costs no call";
  EXPECT_EQ(Value(self, "cloudaware_token_valid"), 1);
  // A renewal is routine: nothing above debug.
  EXPECT_EQ(log.find("level=warn"), std::string::npos) << log;
  EXPECT_EQ(log.find("level=error"), std::string::npos) << log;
  EXPECT_EQ(CountLines(log, "obtained an access token"), 0)
      << "logged only after a failure: " << log;
}

TEST_F(FaultTest, ExpiredTokensAreRenewedOnce) {
  RunRenewal([&](const std::string&) {
    sim_->AddFaults({{"type", "expire_tokens"}});
  });
}

TEST_F(FaultTest, RevokedTokenIsRenewedOnce) {
  RunRenewal([&](const std::string& token) { Revoke(token); });
}

void FaultTest::RunTokenFault(const TokenFault& f) {
  ASSERT_NO_FATAL_FAILURE(StartExporter());
  ASSERT_TRUE(WaitSteady());
  const std::string old_token = LearnToken();
  const Mark mark = TakeMark();
  sim_->AddFaults(f.fault);
  sim_->ExpireAllTokens();

  // Two failed token requests show the backoff and the single log line;
  // stopping there keeps the exporter below the per-minute cap, which would
  // hold back the recovery for up to a minute.
  ASSERT_TRUE(WaitFor("two failed token requests", [&](auto& t) {
    for (const auto& q : kQueries) {
      if (ErrorsSince(mark, t, q.name, {"auth"}) < 1) return false;
    }
    return Delta(mark, t, "cloudaware_token_requests_total",
                 "{result=\"" + f.result + "\"}") >= 2 &&
           Value(t, "cloudaware_up") == 0 &&
           Value(t, "cloudaware_token_valid") == 0;
  }));
  std::string during = Scrape();
  for (const auto& q : kQueries) {
    EXPECT_FALSE(Series(during, q.metric).empty()) << q.metric;
  }

  const double cleared = UnixNow();
  sim_->ClearFaults();
  ASSERT_TRUE(WaitRecovered(cleared));
  StopAndCheckSecrets({old_token, LearnToken()});

  const std::string self = metrics_.Render();
  const std::string log = LogSince(mark);
  EXPECT_EQ(CountLines(log, "token request failed",
                       {"level=error", "result=" + f.result}),
            1)
      << log;
  EXPECT_EQ(CountLines(log, "token request failed"), 1) << log;
  EXPECT_NE(log.find("hint=\"" + f.hint), std::string::npos) << log;
  EXPECT_EQ(CountLines(log, "obtained an access token", {"level=info"}), 1)
      << log;
  for (const auto& q : kQueries) {
    EXPECT_EQ(AllErrorsSince(mark, self, q.name),
              ErrorsSince(mark, self, q.name, {"auth"}))
        << q.name;
    // For want of a token: debug only, once.
    EXPECT_EQ(CountLines(log, "query failed", {Field("query", q.name)}), 1)
        << log;
    EXPECT_EQ(CountLines(log, "query failed",
                         {"level=debug", Field("query", q.name), "error=auth"}),
              1)
        << log;
    EXPECT_EQ(CountLines(log, "query recovered", {Field("query", q.name)}), 1)
        << log;
  }

  // Budgets: the per-minute cap over the whole test, and no query sent
  // without a token.
  const int token_requests = Requests("token");
  EXPECT_LE(token_requests, kTokenRequestsPerMinute);
  EXPECT_EQ(Requests("token", -1, mark),
            Delta(mark, self, "cloudaware_token_requests_total",
                  "{result=\"" + f.result + "\"}") +
                Delta(mark, self, "cloudaware_token_requests_total",
                      "{result=\"success\"}"));
  EXPECT_EQ(Delta(mark, self, "cloudaware_token_requests_total",
                  "{result=\"success\"}"),
            1);
  int before_recovery = 0;
  for (const json& e : ExporterRequests(mark)) {
    if (e["endpoint"] == "token" && e["status"] == 200) break;
    before_recovery += e["endpoint"] == "query";
  }
  EXPECT_LE(before_recovery, kQueryRequestsWithoutToken);
  RecordProperty("token_requests", std::to_string(token_requests));
  EXPECT_EQ(log.find("holding back token requests"), std::string::npos) << log;
}

TEST_F(FaultTest, RejectedCredentials) {
  RunTokenFault({.fault = {{"type", "reject_credentials"}},
                 .result = "invalid_client",
                 .hint = "the client secret is wrong"});
}

TEST_F(FaultTest, WrongHostForTheClientCredentialsFlow) {
  RunTokenFault({.fault = {{"type", "wrong_host"}},
                 .result = "invalid_grant",
                 .hint = "cloudaware.url must be the org's My Domain URL"});
}

TEST_F(FaultTest, TokenEndpointServerError) {
  // An error code outside OAuth's list is reported by status, keeping the
  // label's values bounded.
  RunTokenFault({.fault = {{"type", "oauth_error"},
                           {"error", "server_error"},
                           {"error_description", "try again later"},
                           {"status", 500}},
                 .result = "http_500",
                 .hint = "the token endpoint is failing"});
}

TEST_F(FaultTest, SecretRotationThroughTheSecretFile) {
  ASSERT_NO_FATAL_FAILURE(StartExporter());
  ASSERT_TRUE(WaitSteady());
  const std::string old_token = LearnToken();
  const Mark mark = TakeMark();
  sim_->Configure({{"client_secret", kRotatedSecret}});
  sim_->ExpireAllTokens();
  ASSERT_TRUE(WaitFor("two token requests refused", [&](auto& t) {
    return Delta(mark, t, "cloudaware_token_requests_total",
                 "{result=\"invalid_client\"}") >= 2 &&
           Value(t, "cloudaware_up") == 0 &&
           Value(t, "cloudaware_token_valid") == 0;
  }));

  const double rotated = UnixNow();
  const Mark rotation = TakeMark();
  WriteSecret(kRotatedSecret);
  ASSERT_TRUE(WaitFor("a token with the new secret", [&](auto& t) {
    return Delta(mark, t, "cloudaware_token_requests_total",
                 "{result=\"success\"}") >= 1;
  }));
  ASSERT_TRUE(WaitRecovered(rotated));
  StopAndCheckSecrets({old_token, LearnToken(kRotatedSecret), kRotatedSecret});

  const std::string self = metrics_.Render();
  const std::string log = LogSince(mark);
  EXPECT_EQ(CountLines(log, "token request failed",
                       {"level=error", "result=invalid_client"}),
            1)
      << log;
  EXPECT_EQ(CountLines(log, "client secret file changed; using the new secret",
                       {"level=info"}),
            1)
      << log;
  EXPECT_EQ(CountLines(log, "obtained an access token", {"level=info"}), 1)
      << log;
  // The new secret is taken on the next token request: after the rewrite
  // at most the one request already under way is refused, then one succeeds.
  EXPECT_LE(Requests("token", -1, rotation) - Requests("token", 200, rotation),
            1);
  EXPECT_EQ(Requests("token", 200, rotation), kTokenRequestsPerRenewal);
  EXPECT_EQ(Delta(mark, self, "cloudaware_token_requests_total",
                  "{result=\"success\"}"),
            kTokenRequestsPerRenewal);
  EXPECT_LE(Requests("token"), kTokenRequestsPerMinute);
}

TEST_F(FaultTest, TokenRequestsStopAtThePerMinuteCap) {
  // Long enough for the start and the refusals below, short enough not to
  // wait out a minute.
  token_window_ = std::chrono::seconds(10);
  // The cap counts requests in a window of wall time: the schedule's.
  ASSERT_NO_FATAL_FAILURE(StartExporter("", Drive::kScheduler));
  ASSERT_TRUE(WaitSteady());
  const Mark mark = TakeMark();
  sim_->AddFaults({{"type", "reject_credentials"}});
  sim_->ExpireAllTokens();
  // With a 200-400 ms backoff the exporter would ask about three times a
  // second; the cap stops it after kTokenRequestsPerMinute in all.
  ASSERT_TRUE(WaitFor("the cap", [&](auto&) {
    return CountLines(LogSince(mark), "holding back token requests") >= 1;
  }));
  EXPECT_EQ(Requests("token"), kTokenRequestsPerMinute);
  const double cleared = UnixNow();
  sim_->ClearFaults();
  // The window runs from the start-up token request.
  ASSERT_TRUE(WaitRecovered(cleared, std::chrono::seconds(75)));
  StopAndCheckSecrets({LearnToken()});
  const std::string log = LogSince(mark);
  EXPECT_EQ(CountLines(log, "holding back token requests", {"level=warn"}), 1)
      << log;
  EXPECT_EQ(CountLines(log, "token request failed"), 1) << log;
  EXPECT_LE(Requests("token", -1, mark), kTokenRequestsPerMinute);
}

void FaultTest::RunLimitFault(const std::function<void()>& inject,
                              const std::string& message,
                              const std::function<void()>& clear) {
  // limit_pause is the shortest interval, so that each query next tries in
  // its next scheduled cycle; what the pause sends and logs is the schedule's.
  ASSERT_NO_FATAL_FAILURE(StartExporter("", Drive::kScheduler));
  ASSERT_TRUE(WaitSteady());
  const std::string token = LearnToken();
  const Mark mark = TakeMark();
  inject();
  // A pause began, and some query failed during it without a call: more
  // errors than refusals.
  ASSERT_TRUE(WaitFor("a pause", [&](auto& t) {
    double errors = 0;
    for (const auto& q : kQueries) {
      errors += ErrorsSince(mark, t, q.name, {"REQUEST_LIMIT_EXCEEDED"});
    }
    return CountLines(LogSince(mark), "pausing API calls") >= 1 &&
           errors > Requests("query", 403, mark);
  }));
  const double cleared = UnixNow();
  clear();
  ASSERT_TRUE(WaitRecovered(cleared));
  StopAndCheckSecrets({token});

  const std::string self = metrics_.Render();
  const std::string log = LogSince(mark);
  // The refusals of one pause were all sent before the first of them came
  // back, so they are moments apart; the next pause's come a limit_pause
  // later at the earliest.
  std::vector<int64_t> refusal_ms;
  for (const json& e : ExporterRequests(mark)) {
    if (e["endpoint"] == "query" && e["status"] == 403) {
      refusal_ms.push_back(e["time_ms"].get<int64_t>());
    }
  }
  int pauses = 0;
  int64_t pause_start = 0;
  for (int64_t t : refusal_ms) {
    if (pauses == 0 || t - pause_start > limit_pause_.count() / 2) {
      ++pauses;
      pause_start = t;
    }
  }
  const int refused = static_cast<int>(refusal_ms.size());
  EXPECT_GE(pauses, 1);
  EXPECT_EQ(CountLines(log, "pausing API calls",
                       {"level=warn", Field("pause", "1s")}),
            pauses)
      << "logged once per pause: " << log;
  EXPECT_NE(log.find(message), std::string::npos) << log;
  EXPECT_LE(refused, kRefusedPerPause * pauses);
  EXPECT_EQ(Delta(mark, self, "cloudaware_api_requests_total",
                  "{code=\"403\",endpoint=\"query\"}"),
            refused)
      << "a refusal is not retried";
  double errors = 0;
  for (const auto& q : kQueries) {
    const double e =
        ErrorsSince(mark, self, q.name, {"REQUEST_LIMIT_EXCEEDED"});
    errors += e;
    EXPECT_EQ(AllErrorsSince(mark, self, q.name), e) << q.name;
    // Once per change: each failing streak is logged when it starts and
    // when it ends.
    const int failed = CountLines(
        log, "query failed",
        {"level=warn", Field("query", q.name), "error=REQUEST_LIMIT_EXCEEDED"});
    EXPECT_LE(failed, e) << q.name;
    EXPECT_EQ(failed, CountLines(log, "query recovered",
                                 {"level=info", Field("query", q.name)}))
        << log;
  }
  EXPECT_GT(errors, refused) << "queries during the pause send nothing";
  int cost = 0, answered = 0;
  for (const json& e : ExporterRequests(mark)) {
    cost += e["cost"].get<int>();
    answered += e["endpoint"] == "query" && e["status"] == 200;
  }
  EXPECT_EQ(cost, answered) << "refusals are not charged";
  EXPECT_EQ(Requests("token", -1, mark), 0);
}

TEST_F(FaultTest, DailyLimitExhausted) {
  RunLimitFault(
      [&] {
        sim_->AddFaults({{"type", "exhaust_daily_limit"}});
      },
      "TotalRequests Limit exceeded.",
      [&] {
        SimConfig({{"daily_used", 0}});
      });
}

TEST_F(FaultTest, ConcurrencyCap) {
  // The latency makes the two workers' requests overlap.
  RunLimitFault(
      [&] {
        sim_->AddFaults(json::array(
            {{{"endpoint", "query"}, {"type", "latency"}, {"ms", kLatencyMs}},
             {{"type", "concurrency_cap"}, {"max", 1}}}));
      },
      "ConcurrentPerOrgLongTxn Limit exceeded.", [&] { sim_->ClearFaults(); });
}

}  // namespace
}  // namespace cloudaware_exporter
