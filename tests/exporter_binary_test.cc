// The cloudaware_exporter binary as users run it: --config.check over every
// bad config, --once against the simulator (golden output, promtool),
// SIGTERM with a hung request in flight, SIGHUP and /-/reload.
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <sstream>
#include <thread>

#include "bcrypt_util.h"
#include "exposition_util.h"
#include "process_util.h"
#include "simulator/inventory.h"
#include "simulator/simulator.h"
#include "tls_simulator.h"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using cmdb_simulator::Simulator;
using test_util::FreePort;
using test_util::Process;
using test_util::ReadFile;
using test_util::WriteFile;

class ExporterBinaryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("exporter-bin-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // The variables the example config reads, pointing at the simulator, and
  // its CA for the binary's TLS client. SSL_CERT_FILE is the caller's to
  // unset.
  void SetExampleConfigEnvironment() {
    setenv("CLOUDAWARE_URL",
           ("https://localhost:" + std::to_string(sim_->port())).c_str(), 1);
    setenv("CLOUDAWARE_CLIENT_ID", "bin-client", 1);
    setenv("CLOUDAWARE_CLIENT_SECRET_FILE", (dir_ / "secret").c_str(), 1);
    setenv("SSL_CERT_FILE", (dir_ / "certs/ca.pem").c_str(), 1);
  }

  void StartSimulator() {
    ASSERT_TRUE(test_util::MakeCerts(dir_ / "certs"));
    cmdb_simulator::SimulatorOptions options;
    cmdb_simulator::GenerateOptions gen;
    gen.records = 3000;
    gen.seed = 42;
    options.inventory = std::make_shared<const cmdb_simulator::Inventory>(
        cmdb_simulator::Inventory::Generate(gen));
    options.client_id = "bin-client";
    options.client_secret = "bin-secret-value";
    sim_ = test_util::StartTlsSimulator(options, dir_ / "certs");
    WriteFile(dir_ / "secret", "bin-secret-value\n");
  }

  // The cloudaware section for the simulator, then the given queries.
  std::string Config(const std::string& queries) {
    return "cloudaware:\n  url: https://localhost:" +
           std::to_string(sim_->port()) +
           "\n  client_id: bin-client\n  client_secret_file: " +
           (dir_ / "secret").string() +
           "\n  tls: {ca_file: " + (dir_ / "certs/ca.pem").string() +
           "}\ndefaults: {interval: 1s, stale_after: 10s}\nqueries:\n" +
           queries;
  }

  std::unique_ptr<Process> Run(std::vector<std::string> args) {
    args.insert(args.begin(), EXPORTER_BINARY);
    return std::make_unique<Process>(args, dir_);
  }

  fs::path dir_;
  std::unique_ptr<Simulator> sim_;
};

const char kStateQuery[] = R"(  - name: ec2_by_state
    soql: SELECT CA10__stateName__c state, COUNT(Id) n FROM CA10__CaAwsInstance__c WHERE CA10__disappearanceTime__c = null GROUP BY CA10__stateName__c
    metrics:
      - {name: cloudaware_aws_ec2_instances, value: n, labels: [state]}
)";
const char kBucketQuery[] = R"(  - name: s3_buckets
    soql: SELECT COUNT() FROM CA10__CaAwsBucket__c WHERE CA10__disappearanceTime__c = null
    metrics:
      - {name: cloudaware_aws_s3_buckets}
)";

TEST_F(ExporterBinaryTest, ConfigCheckRejectsEveryBadConfig) {
  int files = 0;
  for (const auto& entry :
       fs::directory_iterator(fs::path(TESTDATA_DIR) / "config/bad")) {
    ++files;
    auto p = Run({"--config.check", "--config.file=" + entry.path().string()});
    ASSERT_EQ(p->Wait(std::chrono::seconds(10)), 1) << entry.path();
    std::string err = p->err();
    // file:line:col: path: problem (the position is absent for a missing file)
    EXPECT_EQ(err.rfind(entry.path().string() + ":", 0), 0u) << err;
    EXPECT_NE(err.find(": ", entry.path().string().size() + 1),
              std::string::npos)
        << err;
    EXPECT_EQ(err.find("hunter2"), std::string::npos) << "secret in: " << err;
    EXPECT_EQ(p->out(), "");
  }
  EXPECT_GE(files, 30);
}

TEST_F(ExporterBinaryTest, ConfigCheckAcceptsTheShippedExample) {
  StartSimulator();
  setenv("CLOUDAWARE_URL", "https://acme.my.salesforce.com", 1);
  setenv("CLOUDAWARE_CLIENT_ID", "id", 1);
  setenv("CLOUDAWARE_CLIENT_SECRET_FILE", (dir_ / "secret").c_str(), 1);
  auto p =
      Run({"--config.check", "--config.file=" + std::string(EXAMPLE_CONFIG)});
  EXPECT_EQ(p->Wait(std::chrono::seconds(10)), 0) << p->err();
  EXPECT_NE(p->out().find("OK"), std::string::npos);
  EXPECT_EQ(p->out().find("bin-secret-value"), std::string::npos);
}

TEST_F(ExporterBinaryTest, ConfigCheckOnlineExitsZeroOrOneNamingTheQuery) {
  StartSimulator();
  WriteFile(dir_ / "good.yml", Config(std::string(kStateQuery) + kBucketQuery));
  auto good = Run({"--config.check.online",
                   "--config.file=" + (dir_ / "good.yml").string()});
  ASSERT_EQ(good->Wait(std::chrono::seconds(30)), 0)
      << good->out() << good->err();
  EXPECT_NE(good->out().find("OK ec2_by_state: "), std::string::npos)
      << good->out();
  EXPECT_NE(good->out().find("OK s3_buckets: "), std::string::npos);
  EXPECT_NE(good->out().find(": 2 of 2 queries OK\n"), std::string::npos);

  WriteFile(dir_ / "bad.yml",
            Config(std::string(kStateQuery) + R"(  - name: broken
    soql: SELECT COUNT() FROM Bogus__c
    metrics:
      - {name: cloudaware_broken}
)"));
  auto bad = Run({"--config.check.online",
                  "--config.file=" + (dir_ / "bad.yml").string()});
  ASSERT_EQ(bad->Wait(std::chrono::seconds(30)), 1) << bad->err();
  EXPECT_NE(bad->out().find("FAIL broken: queries[1].soql: unknown object "
                            "Bogus__c\n"),
            std::string::npos)
      << bad->out();
  EXPECT_NE(bad->out().find("OK ec2_by_state: "), std::string::npos);
  EXPECT_NE(bad->out().find(": 1 of 2 queries OK\n"), std::string::npos);

  // A config the offline check refuses is refused the same way.
  WriteFile(dir_ / "invalid.yml", Config("  - name: no_soql\n"));
  auto invalid = Run({"--config.check.online",
                      "--config.file=" + (dir_ / "invalid.yml").string()});
  ASSERT_EQ(invalid->Wait(std::chrono::seconds(10)), 1);
  EXPECT_EQ(invalid->err().rfind((dir_ / "invalid.yml").string() + ":", 0), 0u)
      << invalid->err();
  EXPECT_EQ(invalid->out(), "");

  // A refused token: the error and its hint, no query checked.
  WriteFile(dir_ / "secret", "not-the-secret\n");
  auto refused = Run({"--config.check.online",
                      "--config.file=" + (dir_ / "good.yml").string()});
  ASSERT_EQ(refused->Wait(std::chrono::seconds(30)), 1);
  EXPECT_NE(refused->out().find("FAIL token: "), std::string::npos)
      << refused->out();
  EXPECT_NE(refused->out().find("invalid_client"), std::string::npos);
  for (const auto* p : {good.get(), bad.get(), refused.get()}) {
    EXPECT_EQ(p->out().find("bin-secret-value"), std::string::npos);
    EXPECT_EQ(p->err().find("bin-secret-value"), std::string::npos);
    EXPECT_EQ(p->out().find("not-the-secret"), std::string::npos);
  }
}

// Lines that vary from run to run: durations, timestamps, process figures,
// and the API usage, which is whatever the last of the concurrent answers said.
std::string Stable(const std::string& exposition) {
  static const std::regex kVarying(
      "^(# (HELP|TYPE) )?(process_|cloudaware_exporter_build_info|"
      "cloudaware_api_request_duration_seconds|cloudaware_api_daily_requests_"
      "used|"
      "cloudaware_query_duration_seconds|cloudaware_query_last_success_"
      "timestamp_seconds|"
      "cloudaware_token_last_success_timestamp_seconds)");
  std::istringstream in(exposition);
  std::string out;
  for (std::string line; std::getline(in, line);) {
    if (!std::regex_search(line, kVarying)) out += line + "\n";
  }
  return out;
}

TEST_F(ExporterBinaryTest, OnceWithTheExampleConfigMatchesTheGolden) {
  StartSimulator();
  SetExampleConfigEnvironment();
  auto p = Run({"--once", "--config.file=" + std::string(EXAMPLE_CONFIG)});
  auto code = p->Wait(std::chrono::seconds(60));
  unsetenv("SSL_CERT_FILE");
  ASSERT_EQ(code, 0) << p->err();
  std::string out = p->out();

  WriteFile(dir_ / "once.prom", out);
  std::string check = "promtool check metrics < " +
                      (dir_ / "once.prom").string() + " > " +
                      (dir_ / "promtool.out").string() + " 2>&1";
  EXPECT_EQ(std::system(check.c_str()), 0) << ReadFile(dir_ / "promtool.out");

  fs::path golden = fs::path(TESTDATA_DIR) / "golden/example_config_once.prom";
  if (std::getenv("UPDATE_GOLDEN")) WriteFile(golden, Stable(out));
  EXPECT_EQ(Stable(out), ReadFile(golden))
      << "rerun with UPDATE_GOLDEN=1 after an intended change";
  // One query per configured query, one token: nothing more.
  int queries = 0, tokens = 0;
  for (const auto& e : sim_->RequestLog()) {
    queries += e["endpoint"] == "query";
    tokens += e["endpoint"] == "token";
  }
  EXPECT_EQ(queries, 24);
  EXPECT_EQ(tokens, 1);
}

// The binary's --config.discover, end to end: the file it writes runs with
// --once, every query succeeding, and the API calls it spent stay within
// what it stated and the budget.
TEST_F(ExporterBinaryTest, DiscoverWritesAConfigThatRuns) {
  StartSimulator();
  SetExampleConfigEnvironment();
  const fs::path written = dir_ / "discovered.yml";
  auto p =
      Run({"--config.discover=" + written.string(), "--discover.max-calls=21",
           "--config.file=" + std::string(EXAMPLE_CONFIG)});
  auto code = p->Wait(std::chrono::seconds(60));
  ASSERT_EQ(code, 0) << p->err();
  std::smatch stated;
  const std::string err = p->err();
  ASSERT_TRUE(std::regex_search(
      err, stated, std::regex(R"(will spend at most (\d+) API calls)")))
      << err;
  int calls = 0;
  for (const auto& e : sim_->RequestLog()) calls += e["counted"] == true;
  EXPECT_LE(calls, std::stoi(stated[1].str()));
  EXPECT_LE(calls, 21);
  EXPECT_NE(err.find("skipping"), std::string::npos) << "12 objects, 10 fit";

  auto once = Run({"--once", "--config.file=" + written.string()});
  code = once->Wait(std::chrono::seconds(60));
  unsetenv("SSL_CERT_FILE");
  ASSERT_EQ(code, 0) << once->err() << ReadFile(written);
  const std::string out = once->out();
  EXPECT_NE(out.find("cloudaware_query_success{"), std::string::npos);
  EXPECT_EQ(std::regex_search(
                out, std::regex(R"(cloudaware_query_success\{[^}]*\} 0)")),
            false)
      << out;
}

TEST_F(ExporterBinaryTest, OnceExitsOneWhenAQueryFails) {
  StartSimulator();
  WriteFile(dir_ / "c.yml",
            Config(std::string(kStateQuery) + R"(  - name: broken
    soql: SELECT COUNT() FROM Bogus__c
    metrics:
      - {name: cloudaware_broken}
)"));
  auto p = Run({"--once", "--config.file=" + (dir_ / "c.yml").string()});
  ASSERT_EQ(p->Wait(std::chrono::seconds(30)), 1) << p->err();
  EXPECT_NE(p->out().find("cloudaware_aws_ec2_instances{"), std::string::npos);
  EXPECT_NE(p->out().find("cloudaware_query_errors_total{error=\"INVALID_"
                          "TYPE\",query=\"broken\"} 1"),
            std::string::npos)
      << p->out();
  EXPECT_NE(p->err().find("INVALID_TYPE"), std::string::npos) << p->err();
}

// The hidden --test.token-backoff lets tests of the binary see a refused
// token retried in a second rather than 15 s; a bad value is a usage error.
TEST_F(ExporterBinaryTest, TestTokenBackoffShortensTheWaitAfterARefusal) {
  StartSimulator();
  sim_->AddFaults({{"type", "reject_credentials"}});
  WriteFile(dir_ / "c.yml", Config(kStateQuery));
  auto bad = Run({"--config.file=" + (dir_ / "c.yml").string(),
                  "--test.token-backoff=soon"});
  EXPECT_EQ(bad->Wait(std::chrono::seconds(10)), 2);
  EXPECT_NE(bad->err().find("--test.token-backoff must be a duration"),
            std::string::npos)
      << bad->err();

  auto p = Run({"--config.file=" + (dir_ / "c.yml").string(),
                "--web.listen-address=127.0.0.1:" + std::to_string(FreePort()),
                "--test.token-backoff=200ms"});
  auto tokens = [&] {
    int n = 0;
    for (const auto& e : sim_->RequestLog()) n += e["endpoint"] == "token";
    return n;
  };
  for (int i = 0; i < 100 && tokens() < 3; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_GE(tokens(), 3) << "within 5 s, after waits of 0.2 s and 0.4 s";
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(std::chrono::seconds(10)), 0) << p->err();
}

TEST_F(ExporterBinaryTest, SigtermStopsPromptlyWithAHungRequest) {
  StartSimulator();
  sim_->AddFaults({{"endpoint", "query"}, {"type", "hang"}});
  WriteFile(dir_ / "c.yml", Config(kStateQuery));
  int port = FreePort();
  auto p = Run({"--config.file=" + (dir_ / "c.yml").string(),
                "--web.listen-address=127.0.0.1:" + std::to_string(port)});
  for (int i = 0; i < 300 && sim_->Stats()["in_flight"] == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_GT(sim_->Stats()["in_flight"].get<int>(), 0) << p->err();
  httplib::Client c("127.0.0.1", port);
  auto res = c.Get("/metrics");
  ASSERT_TRUE(res) << "scrapes answer while the query hangs";
  EXPECT_EQ(res->status, 200);

  auto start = Clock::now();
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(std::chrono::seconds(10)), 0) << p->err();
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(5));
  EXPECT_NE(p->err().find("shutting down"), std::string::npos);
}

TEST_F(ExporterBinaryTest,
       SighupReloadsAndKeepsTheOldConfigWhenTheNewOneIsBad) {
  StartSimulator();
  WriteFile(dir_ / "c.yml", Config(kStateQuery));
  int port = FreePort();
  auto p = Run({"--config.file=" + (dir_ / "c.yml").string(),
                "--web.listen-address=127.0.0.1:" + std::to_string(port)});
  httplib::Client c("127.0.0.1", port);
  auto wait_for = [&](const std::string& needle, bool present) {
    for (int i = 0; i < 250; ++i) {
      auto res = c.Get("/metrics");
      if (res && (res->body.find(needle) != std::string::npos) == present)
        return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(40));
    }
    return false;
  };
  ASSERT_TRUE(wait_for("cloudaware_aws_ec2_instances{", true)) << p->err();

  WriteFile(dir_ / "c.yml", Config(std::string(kStateQuery) + kBucketQuery));
  p->Signal(SIGHUP);
  EXPECT_TRUE(wait_for("cloudaware_aws_s3_buckets ", true)) << p->err();

  WriteFile(dir_ / "c.yml", "cloudaware: {url: [oops]\n");
  p->Signal(SIGHUP);
  for (int i = 0;
       i < 100 && p->err().find("reload failed") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_NE(p->err().find("reload failed, keeping the current config"),
            std::string::npos);
  auto res = c.Get("/metrics");
  ASSERT_TRUE(res);
  EXPECT_NE(res->body.find("cloudaware_aws_s3_buckets "), std::string::npos);

  // Removing a query removes its series and its self metrics.
  WriteFile(dir_ / "c.yml", Config(kStateQuery));
  p->Signal(SIGHUP);
  EXPECT_TRUE(wait_for("query=\"s3_buckets\"", false)) << p->err();
  EXPECT_TRUE(wait_for("cloudaware_aws_s3_buckets ", false));

  // Without --web.enable-lifecycle, POST /-/reload is refused.
  res = c.Post("/-/reload", "", "text/plain");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 403);
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(std::chrono::seconds(10)), 0);
}

TEST_F(ExporterBinaryTest, LifecycleReloadAndVersion) {
  StartSimulator();
  WriteFile(dir_ / "c.yml", Config(kStateQuery));
  int port = FreePort();
  auto p = Run({"--config.file=" + (dir_ / "c.yml").string(),
                "--web.enable-lifecycle",
                "--web.listen-address=127.0.0.1:" + std::to_string(port)});
  httplib::Client c("127.0.0.1", port);
  bool ready = false;
  for (int i = 0; i < 250 && !ready; ++i) {
    auto res = c.Get("/-/ready");
    ready = res && res->status == 200;
    if (!ready) std::this_thread::sleep_for(std::chrono::milliseconds(40));
  }
  ASSERT_TRUE(ready) << p->err();
  auto page = c.Get("/");
  ASSERT_TRUE(page);
  EXPECT_NE(page->body.find("<td>ec2_by_state</td>"), std::string::npos)
      << page->body;
  EXPECT_NE(page->body.find(">ok<"), std::string::npos) << page->body;
  // /status reads the same pipeline; the secret file shows by its path only.
  auto status = c.Get("/status");
  ASSERT_TRUE(status);
  EXPECT_EQ(status->status, 200);
  EXPECT_EQ(status->get_header_value("Content-Type"), "application/json");
  EXPECT_EQ(status->body.find("bin-secret-value"), std::string::npos);
  nlohmann::json j = nlohmann::json::parse(status->body, nullptr, false);
  ASSERT_TRUE(j.is_object()) << status->body;
  EXPECT_EQ(j["config"]["file"], (dir_ / "c.yml").string());
  ASSERT_EQ(j["orgs"].size(), 1u) << status->body;
  EXPECT_EQ(j["orgs"][0]["ready"], true);
  EXPECT_EQ(j["orgs"][0]["token"]["held"], true);
  EXPECT_TRUE(j["orgs"][0]["api"]["daily_limit"].is_number());
  ASSERT_EQ(j["orgs"][0]["queries"].size(), 1u);
  EXPECT_EQ(j["orgs"][0]["queries"][0]["name"], "ec2_by_state");
  WriteFile(dir_ / "c.yml", "queries: []\n");
  auto res = c.Post("/-/reload", "", "text/plain");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 500);
  EXPECT_NE(res->body.find("cloudaware"), std::string::npos) << res->body;
  WriteFile(dir_ / "c.yml", Config(kBucketQuery));
  res = c.Post("/-/reload", "", "text/plain");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200) << res->body;
  status = c.Get("/status");
  ASSERT_TRUE(status);
  j = nlohmann::json::parse(status->body, nullptr, false);
  ASSERT_TRUE(j.is_object()) << status->body;
  EXPECT_EQ(j["orgs"][0]["queries"][0]["name"], "s3_buckets")
      << "the reloaded config's queries";
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(std::chrono::seconds(10)), 0);

  auto v = Run({"--version"});
  ASSERT_EQ(v->Wait(std::chrono::seconds(10)), 0);
  EXPECT_EQ(v->out().rfind("cloudaware_exporter, version ", 0), 0u) << v->out();
}

// --web.config.file as a user would set it up: HTTPS with the test CA's
// certificate and one basic auth user, relative paths in the web config.
TEST_F(ExporterBinaryTest, ServesHttpsWithBasicAuthFromTheWebConfig) {
  StartSimulator();
  WriteFile(dir_ / "c.yml", Config(kStateQuery));
  const std::string hash = test_util::BcryptHash("scrape-pw");
  WriteFile(dir_ / "web.yml",
            "tls_server_config:\n  cert_file: certs/server.pem\n  key_file: "
            "certs/server.key\nbasic_auth_users:\n  prometheus: " +
                hash + "\n");
  int port = FreePort();
  auto p = Run({"--config.file=" + (dir_ / "c.yml").string(),
                "--web.config.file=" + (dir_ / "web.yml").string(),
                "--web.listen-address=127.0.0.1:" + std::to_string(port)});
  httplib::SSLClient c("127.0.0.1", port);
  c.set_ca_cert_path((dir_ / "certs/ca.pem").string());
  c.enable_server_certificate_verification(true);
  c.set_connection_timeout(5);
  c.set_read_timeout(10);
  c.set_basic_auth("prometheus", "scrape-pw");
  bool scraped = false;
  for (int i = 0; i < 250 && !scraped; ++i) {
    auto res = c.Get("/metrics");
    scraped =
        res && res->status == 200 &&
        res->body.find("cloudaware_aws_ec2_instances{") != std::string::npos;
    if (!scraped) std::this_thread::sleep_for(std::chrono::milliseconds(40));
  }
  ASSERT_TRUE(scraped) << p->err();

  httplib::SSLClient anonymous("127.0.0.1", port);
  anonymous.set_ca_cert_path((dir_ / "certs/ca.pem").string());
  anonymous.enable_server_certificate_verification(true);
  auto res = anonymous.Get("/metrics");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 401);
  EXPECT_EQ(res->get_header_value("WWW-Authenticate"),
            "Basic realm=\"cloudaware_exporter\"");
  anonymous.set_basic_auth("prometheus", "wrong-pw");
  res = anonymous.Get("/-/healthy");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 401);
  EXPECT_FALSE(httplib::Client("127.0.0.1", port).Get("/metrics"))
      << "plain HTTP answered";

  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(std::chrono::seconds(10)), 0);
  EXPECT_EQ(p->err().find("scrape-pw"), std::string::npos) << p->err();
  EXPECT_EQ(p->err().find(hash), std::string::npos) << p->err();
}

TEST_F(ExporterBinaryTest, BadWebConfigStopsTheStart) {
  StartSimulator();
  WriteFile(dir_ / "c.yml", Config(kStateQuery));
  const std::string web = (dir_ / "web.yml").string();
  WriteFile(dir_ / "web.yml", "basic_auth_users:\n  alice: hunter2\n");
  const std::string want =
      web +
      ":2:10: basic_auth_users.alice: is not a bcrypt hash: want $2a$, $2b$ "
      "or $2y$, a cost from 04 to 31 and 53 more characters, as `htpasswd "
      "-nbB USER PASSWORD` prints after the ':'";

  auto check =
      Run({"--config.check", "--config.file=" + (dir_ / "c.yml").string(),
           "--web.config.file=" + web});
  ASSERT_EQ(check->Wait(std::chrono::seconds(10)), 1);
  EXPECT_EQ(check->err(), want + "\n");

  auto p = Run(
      {"--config.file=" + (dir_ / "c.yml").string(), "--web.config.file=" + web,
       "--web.listen-address=127.0.0.1:" + std::to_string(FreePort())});
  ASSERT_EQ(p->Wait(std::chrono::seconds(10)), 1) << p->err();
  EXPECT_NE(p->err().find("cannot load web config"), std::string::npos)
      << p->err();
  EXPECT_EQ(p->err().find("hunter2"), std::string::npos) << p->err();

  // A key that does not belong to the certificate is found at start-up too.
  ASSERT_TRUE(test_util::MakeCerts(dir_ / "other"));
  WriteFile(dir_ / "web.yml",
            "tls_server_config:\n  cert_file: certs/server.pem\n  key_file: "
            "other/server.key\n");
  check = Run({"--config.check", "--config.file=" + (dir_ / "c.yml").string(),
               "--web.config.file=" + web});
  ASSERT_EQ(check->Wait(std::chrono::seconds(10)), 1);
  EXPECT_EQ(check->err(), web +
                              ":3:13: tls_server_config.key_file: the "
                              "private key in " +
                              (dir_ / "other/server.key").string() +
                              " does not belong to the certificate in " +
                              (dir_ / "certs/server.pem").string() + "\n");

  WriteFile(dir_ / "web.yml",
            "tls_server_config:\n  cert_file: certs/server.pem\n  key_file: "
            "certs/server.key\n");
  check = Run({"--config.check", "--config.file=" + (dir_ / "c.yml").string(),
               "--web.config.file=" + web});
  ASSERT_EQ(check->Wait(std::chrono::seconds(10)), 0) << check->err();
  EXPECT_NE(check->out().find(web + ": OK"), std::string::npos) << check->out();
}

// Two orgs in one process: each its own simulator, credentials and queries
// (the same query and metric names in both), told apart by the org label.
TEST_F(ExporterBinaryTest, ServesSeveralOrgsWithAnOrgLabel) {
  StartSimulator();
  cmdb_simulator::SimulatorOptions options;
  cmdb_simulator::GenerateOptions gen;
  gen.records = 500;
  gen.seed = 7;
  options.inventory = std::make_shared<const cmdb_simulator::Inventory>(
      cmdb_simulator::Inventory::Generate(gen));
  options.client_id = "staging-client";
  options.client_secret = "staging-secret-value";
  auto staging = test_util::StartTlsSimulator(options, dir_ / "certs");
  auto org = [&](const std::string& name, int port, const std::string& id,
                 const std::string& secret, const std::string& queries) {
    return "  - name: " + name +
           "\n    cloudaware:\n      url: https://localhost:" +
           std::to_string(port) + "\n      client_id: " + id +
           "\n      client_secret: " + secret +
           "\n      tls: {ca_file: " + (dir_ / "certs/ca.pem").string() +
           "}\n    queries:\n" + queries;
  };
  // The queries one level deeper, inside an org entry.
  auto indent = [](const std::string& text) {
    std::istringstream lines(text);
    std::string out;
    for (std::string line; std::getline(lines, line);)
      out += "  " + line + "\n";
    return out;
  };
  const std::string both =
      "defaults: {interval: 1s, stale_after: 10s}\norgs:\n" +
      org("prod", sim_->port(), "bin-client", "bin-secret-value",
          indent(std::string(kStateQuery) + kBucketQuery)) +
      org("staging", staging->port(), "staging-client", "staging-secret-value",
          indent(kStateQuery));
  WriteFile(dir_ / "orgs.yml", both);

  auto check =
      Run({"--config.check", "--config.file=" + (dir_ / "orgs.yml").string()});
  ASSERT_EQ(check->Wait(std::chrono::seconds(10)), 0) << check->err();
  EXPECT_NE(check->out().find("OK, 3 queries in 2 orgs"), std::string::npos)
      << check->out();
  // The live check signs in to each org and reports them one after another.
  check = Run({"--config.check.online",
               "--config.file=" + (dir_ / "orgs.yml").string()});
  ASSERT_EQ(check->Wait(std::chrono::seconds(30)), 0) << check->out();
  const std::string report = check->out();
  const size_t prod_at = report.find("org prod:\nOK ec2_by_state: ");
  const size_t staging_at = report.find("org staging:\nOK ec2_by_state: ");
  EXPECT_NE(prod_at, std::string::npos) << report;
  EXPECT_NE(staging_at, std::string::npos) << report;
  EXPECT_LT(prod_at, staging_at) << report;
  sim_->ClearRequestLog();
  staging->ClearRequestLog();

  auto p = Run({"--once", "--config.file=" + (dir_ / "orgs.yml").string()});
  ASSERT_EQ(p->Wait(std::chrono::seconds(60)), 0) << p->err();
  const std::string out = p->out();
  WriteFile(dir_ / "once.prom", out);
  std::string promtool = "promtool check metrics < " +
                         (dir_ / "once.prom").string() + " > " +
                         (dir_ / "promtool.out").string() + " 2>&1";
  EXPECT_EQ(std::system(promtool.c_str()), 0)
      << ReadFile(dir_ / "promtool.out");

  auto count = [&](const std::string& needle) {
    int n = 0;
    for (size_t at = out.find(needle); at != std::string::npos;
         at = out.find(needle, at + 1)) {
      ++n;
    }
    return n;
  };
  // One family, the series of both orgs in it.
  EXPECT_EQ(count("# TYPE cloudaware_aws_ec2_instances gauge"), 1) << out;
  EXPECT_EQ(count("# TYPE cloudaware_up gauge"), 1) << out;
  EXPECT_EQ(count("cloudaware_exporter_build_info{"), 1) << out;
  EXPECT_EQ(count("\nprocess_start_time_seconds "), 1) << out;
  EXPECT_GT(count("cloudaware_aws_ec2_instances{org=\"prod\",state="), 0);
  EXPECT_GT(count("cloudaware_aws_ec2_instances{org=\"staging\",state="), 0);
  EXPECT_EQ(count("cloudaware_aws_s3_buckets{org=\"prod\"}"), 1) << out;
  EXPECT_EQ(count("cloudaware_aws_s3_buckets{org=\"staging\""), 0) << out;
  EXPECT_EQ(count("cloudaware_up{org=\"prod\"} 1"), 1) << out;
  EXPECT_EQ(count("cloudaware_up{org=\"staging\"} 1"), 1) << out;
  EXPECT_EQ(count("cloudaware_query_success{org=\"staging\",query=\"ec2_by_"
                  "state\"} 1"),
            1)
      << out;
  EXPECT_EQ(out.find("secret-value"), std::string::npos);
  // Each org signed in to its own API with its own credentials.
  for (const auto* sim : {sim_.get(), staging.get()}) {
    int tokens = 0;
    for (const auto& e : sim->RequestLog()) tokens += e["endpoint"] == "token";
    EXPECT_EQ(tokens, 1);
  }

  // A reload that removes an org takes its series with it.
  int port = FreePort();
  auto server = Run({"--config.file=" + (dir_ / "orgs.yml").string(),
                     "--web.enable-lifecycle",
                     "--web.listen-address=127.0.0.1:" + std::to_string(port)});
  httplib::Client c("127.0.0.1", port);
  auto scrape_until = [&](const std::string& needle, bool present) {
    std::string body;
    for (int i = 0; i < 250; ++i) {
      auto res = c.Get("/metrics");
      if (res && res->status == 200) {
        body = res->body;
        if ((body.find(needle) != std::string::npos) == present) return body;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(40));
    }
    ADD_FAILURE() << needle << (present ? " never appeared" : " stayed") << "\n"
                  << server->err();
    return body;
  };
  scrape_until("cloudaware_aws_ec2_instances{org=\"staging\"", true);
  WriteFile(dir_ / "orgs.yml",
            "defaults: {interval: 1s, stale_after: 10s}\norgs:\n" +
                org("prod", sim_->port(), "bin-client", "bin-secret-value",
                    indent(kStateQuery)));
  auto res = c.Post("/-/reload", "", "text/plain");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200) << res->body;
  std::string body = scrape_until("org=\"staging\"", false);
  EXPECT_EQ(body.find("cloudaware_aws_s3_buckets"), std::string::npos) << body;
  EXPECT_NE(body.find("cloudaware_up{org=\"prod\"}"), std::string::npos)
      << body;
  server->Signal(SIGTERM);
  EXPECT_EQ(server->Wait(std::chrono::seconds(10)), 0);
}

// --storage.path: a restart serves the last results at once, even while
// the API fails.
TEST_F(ExporterBinaryTest, ARestartServesStoredResultsWhileTheApiFails) {
  StartSimulator();
  WriteFile(dir_ / "c.yml", Config(std::string(kStateQuery) + kBucketQuery));
  const std::string store = "--storage.path=" + (dir_ / "data/store").string();
  const std::string config = "--config.file=" + (dir_ / "c.yml").string();
  int port = FreePort();
  auto p = Run({config, store,
                "--web.listen-address=127.0.0.1:" + std::to_string(port)});
  httplib::Client c("127.0.0.1", port);
  std::string first;
  for (int i = 0; i < 250; ++i) {
    auto res = c.Get("/metrics");
    if (res &&
        res->body.find("cloudaware_aws_ec2_instances{") != std::string::npos &&
        res->body.find("cloudaware_aws_s3_buckets ") != std::string::npos) {
      first = res->body;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(40));
  }
  ASSERT_NE(first, "") << p->err();
  p->Signal(SIGTERM);
  ASSERT_EQ(p->Wait(std::chrono::seconds(10)), 0) << p->err();
  EXPECT_TRUE(fs::exists(dir_ / "data/store/ec2_by_state.json"));
  EXPECT_TRUE(fs::exists(dir_ / "data/store/s3_buckets.json"));

  sim_->AddFaults({{"endpoint", "query"}, {"type", "error"}, {"status", 503}});
  port = FreePort();
  p = Run({config, store,
           "--web.listen-address=127.0.0.1:" + std::to_string(port)});
  httplib::Client again("127.0.0.1", port);
  std::optional<httplib::Result> res;
  for (int i = 0; i < 250; ++i) {
    res.emplace(again.Get("/metrics"));
    if (*res) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_TRUE(res && *res) << p->err();
  // The first answer the restarted exporter gives already has the gauges.
  const std::string body = (*res)->body;
  for (const std::string metric :
       {"cloudaware_aws_ec2_instances", "cloudaware_aws_s3_buckets"}) {
    auto want = test_util::Series(first, metric);
    EXPECT_FALSE(want.empty()) << metric;
    EXPECT_EQ(test_util::Series(body, metric), want) << body;
  }
  auto ready = again.Get("/-/ready");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 200);
  EXPECT_NE(p->err().find("restored stored results\" restored=2 queries=2"),
            std::string::npos)
      << p->err();

  // The queries do run, and fail, once their 1 s interval has passed and the
  // client gave up retrying; the stored series stay until stale_after.
  for (int i = 0; i < 500 && p->err().find("query failed") == std::string::npos;
       ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_NE(p->err().find("query failed"), std::string::npos) << p->err();
  auto later = again.Get("/metrics");
  ASSERT_TRUE(later);
  EXPECT_EQ(test_util::Series(later->body, "cloudaware_aws_s3_buckets"),
            test_util::Series(first, "cloudaware_aws_s3_buckets"));
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(std::chrono::seconds(10)), 0);
}

TEST_F(ExporterBinaryTest, AStoragePathThatCannotBeUsedStopsTheStart) {
  StartSimulator();
  WriteFile(dir_ / "c.yml", Config(kBucketQuery));
  WriteFile(dir_ / "file", "x");
  auto p =
      Run({"--config.file=" + (dir_ / "c.yml").string(),
           "--storage.path=" + (dir_ / "file/store").string(),
           "--web.listen-address=127.0.0.1:" + std::to_string(FreePort())});
  ASSERT_EQ(p->Wait(std::chrono::seconds(10)), 1) << p->err();
  EXPECT_NE(p->err().find("level=error msg=\"cannot use storage path\" "
                          "err=\"storage path " +
                          (dir_ / "file/store").string() + ": "),
            std::string::npos)
      << p->err();

  // --once neither reads nor writes the store.
  auto once = Run({"--once", "--config.file=" + (dir_ / "c.yml").string(),
                   "--storage.path=" + (dir_ / "unused").string()});
  ASSERT_EQ(once->Wait(std::chrono::seconds(30)), 0) << once->err();
  EXPECT_FALSE(fs::exists(dir_ / "unused"));
}

// Idle, half-open and kept-alive connections do not hold up the exit: the
// server closes every one of them at once.
TEST_F(ExporterBinaryTest, SigtermWithTwoHundredOpenConnectionsExitsPromptly) {
  StartSimulator();
  WriteFile(dir_ / "c.yml", Config(kBucketQuery));
  const int port = FreePort();
  auto p = Run({"--config.file=" + (dir_ / "c.yml").string(),
                "--web.listen-address=127.0.0.1:" + std::to_string(port)});
  httplib::Client c("127.0.0.1", port);
  for (int i = 0; i < 250 && !c.Get("/-/healthy"); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::vector<int> fds;
  for (int i = 0; i < 200; ++i) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0)
        << p->err();
    fds.push_back(fd);
    const std::string partial = "GET /metrics HTTP/1.1\r\nHost: x\r\n";
    const std::string healthy = "GET /-/healthy HTTP/1.1\r\n\r\n";
    if (i % 3 == 1) ::send(fd, partial.data(), partial.size(), MSG_NOSIGNAL);
    if (i % 3 == 2) ::send(fd, healthy.data(), healthy.size(), MSG_NOSIGNAL);
  }
  auto res = c.Get("/-/healthy");
  ASSERT_TRUE(res) << "answers with 200 connections open";
  EXPECT_EQ(res->status, 200);

  const auto start = Clock::now();
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(std::chrono::seconds(5)), 0) << p->err();
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(2));
  for (int fd : fds) ::close(fd);
}

}  // namespace
