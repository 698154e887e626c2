// The exporter's HTTP client against the CMDB simulator over HTTPS, through a
// real proxy (tinyproxy, a separate process, as a corporate egress proxy would
// be) and with TLS verification in its three settings: a CA file, the system
// CAs, and verification off. tests/connect_proxy.h only proves that CONNECT is
// sent; tinyproxy also checks the request is one a real proxy accepts.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "exporter/app/org_pipeline.h"
#include "exporter/base/log.h"
#include "exporter/cmdb/cmdb_client.h"
#include "exporter/cmdb/http_client.h"
#include "exporter/cmdb/token_source.h"
#include "exporter/config/config.h"
#include "exporter/metrics/self_metrics.h"
#include "process_util.h"
#include "simulator/inventory.h"
#include "simulator/simulator.h"
#include "tls_simulator.h"
#include "util/fake_env.h"

namespace cloudaware_exporter {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using cmdb_simulator::Inventory;
using cmdb_simulator::Simulator;

const char kSoql[] = "SELECT COUNT() FROM CA10__CaAwsAccount__c";

std::shared_ptr<const Inventory> TestInventory() {
  static auto inv = [] {
    cmdb_simulator::GenerateOptions options;
    options.records = 1000;
    options.seed = 5;
    return std::make_shared<const Inventory>(Inventory::Generate(options));
  }();
  return inv;
}

int64_t ExpectedCount() {
  return static_cast<int64_t>(
      TestInventory()->FindTable("CA10__CaAwsAccount__c")->rows());
}

// tinyproxy is looked up when the test runs, so that installing it after
// configuring the build is enough.
std::optional<std::string> FindTinyproxy() {
  std::vector<std::string> dirs;
  if (const char* path = std::getenv("PATH")) {
    std::stringstream ss(path);
    for (std::string d; std::getline(ss, d, ':');) {
      if (!d.empty()) dirs.push_back(d);
    }
  }
  // Debian installs it in /usr/bin; some systems keep daemons in sbin, which
  // is not always on a test runner's PATH.
  dirs.insert(dirs.end(), {"/usr/bin", "/usr/sbin", "/usr/local/bin"});
  for (const auto& d : dirs) {
    fs::path p = fs::path(d) / "tinyproxy";
    if (access(p.c_str(), X_OK) == 0) return p.string();
  }
  return std::nullopt;
}

bool Accepts(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  close(fd);
  return ok;
}

// tinyproxy in the foreground, allowed to CONNECT to one port only.
class Tinyproxy {
 public:
  Tinyproxy(const std::string& binary, const fs::path& dir, int connect_port)
      : dir_(dir) {
    fs::create_directories(dir);
    // FreePort() can race with another program taking the port; a new port
    // and a new tinyproxy fix that.
    for (int attempt = 0; attempt < 3 && !ready_; ++attempt) {
      port_ = test_util::FreePort();
      test_util::WriteFile(dir / "tinyproxy.conf",
                           "Port " + std::to_string(port_) +
                               "\n"
                               "Listen 127.0.0.1\n"
                               "Timeout 60\n"
                               "Allow 127.0.0.1\n"
                               "ConnectPort " +
                               std::to_string(connect_port) +
                               "\n"
                               "MaxClients 20\n"
                               "LogLevel Info\n"
                               "LogFile \"" +
                               (dir / "tinyproxy.log").string() +
                               "\"\n"
                               "PidFile \"" +
                               (dir / "tinyproxy.pid").string() + "\"\n");
      process_ = std::make_unique<test_util::Process>(
          std::vector<std::string>{binary, "-d", "-c",
                                   (dir / "tinyproxy.conf").string()},
          dir, "tinyproxy.");
      // Up to 10 s for it to listen, less if it exits first.
      for (int i = 0; i < 200; ++i) {
        if (Accepts(port_)) {
          ready_ = true;
          break;
        }
        if (process_->Wait(std::chrono::milliseconds(50))) break;
      }
      if (!ready_) process_.reset();
    }
  }
  bool ready() const { return ready_; }
  int port() const { return port_; }
  std::string url() const {
    return "http://127.0.0.1:" + std::to_string(port_);
  }
  std::string log() const {
    return test_util::ReadFile(dir_ / "tinyproxy.log");
  }
  std::string output() const {
    return process_ ? process_->out() + process_->err()
                    : test_util::ReadFile(dir_ / "tinyproxy.stderr");
  }
  // tinyproxy logs each request line as "Request (file descriptor N): ...".
  int CountConnects(const std::string& target) const {
    std::istringstream in(log());
    int n = 0;
    for (std::string line; std::getline(in, line);) {
      n += line.find("Request (file descriptor") != std::string::npos &&
           line.find("CONNECT " + target + " ") != std::string::npos;
    }
    return n;
  }

 private:
  fs::path dir_;
  int port_ = 0;
  bool ready_ = false;
  std::unique_ptr<test_util::Process> process_;
};

// The API side of an org as the exporter wires it, for one config and one
// environment.
struct Client {
  Client(const std::string& yaml, std::map<std::string, std::string> env) {
    EnvLookup lookup = test_util::FakeEnv(env);
    config = ParseConfig(yaml, "tls_proxy_test.yml", lookup);
    OrgOptions options;
    options.tokens.min_backoff = std::chrono::milliseconds(300);
    options.tokens.max_backoff = std::chrono::milliseconds(600);
    options.env = lookup;
    api = std::make_unique<OrgConnection>(config.orgs[0].cloudaware, metrics,
                                          options);
    http = &api->http;
    cmdb = &api->client;
  }
  ~Client() { http->Stop(); }

  Config config;
  SelfMetrics metrics{"test", "test"};
  std::unique_ptr<OrgConnection> api;
  HttpClient* http = nullptr;
  CmdbClient* cmdb = nullptr;
};

class TlsProxyTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new fs::path(fs::temp_directory_path() /
                        ("tls-proxy-test-" + std::to_string(::getpid())));
    // Two throwaway CAs: the simulator's, and one that did not sign it.
    ASSERT_TRUE(test_util::MakeCerts(*dir_ / "certs"));
    ASSERT_TRUE(test_util::MakeCerts(*dir_ / "other"));
  }
  static void TearDownTestSuite() {
    fs::remove_all(*dir_);
    delete dir_;
  }

  void SetUp() override {
    ConfigureLogging(LogLevel::kError, LogFormat::kLogfmt, &log_);
    cmdb_simulator::SimulatorOptions options;
    options.inventory = TestInventory();
    options.client_id = "tp-client";
    options.client_secret = "tp-secret-value";
    sim_ = test_util::StartTlsSimulator(options, *dir_ / "certs");
  }
  void TearDown() override {
    sim_->Stop();
    ConfigureLogging(LogLevel::kInfo, LogFormat::kLogfmt);
  }

  std::string host_port() const {
    return "127.0.0.1:" + std::to_string(sim_->port());
  }
  std::string ca_file() const { return (*dir_ / "certs" / "ca.pem").string(); }
  std::string other_ca_file() const {
    return (*dir_ / "other" / "ca.pem").string();
  }

  // A config for the simulator at host, with more `cloudaware:` settings.
  std::string Yaml(const std::string& more, const std::string& host) const {
    return "cloudaware:\n  url: https://" + host + ":" +
           std::to_string(sim_->port()) +
           "\n  client_id: tp-client\n  client_secret: tp-secret-value\n"
           "  max_retries: 0\n" +
           more + "queries:\n  - name: accounts\n    soql: " + kSoql +
           "\n    metrics: [{name: cloudaware_test_accounts}]\n";
  }
  std::string Yaml(const std::string& more) const {
    return Yaml(more, "127.0.0.1");
  }
  std::string TrustTestCa() const {
    return "  tls: {ca_file: " + ca_file() + "}\n";
  }

  // tinyproxy, or a failed assertion telling how to install it.
  std::unique_ptr<Tinyproxy> StartTinyproxy(const std::string& name) {
    auto binary = FindTinyproxy();
    EXPECT_TRUE(binary) << "tinyproxy is not installed; run "
                           "deploy/install-deps.sh (it installs the test "
                           "dependencies, tinyproxy among them)";
    if (!binary) return nullptr;
    auto proxy =
        std::make_unique<Tinyproxy>(*binary, *dir_ / name, sim_->port());
    EXPECT_TRUE(proxy->ready()) << "tinyproxy did not start listening:\n"
                                << proxy->output() << proxy->log();
    if (!proxy->ready()) return nullptr;
    return proxy;
  }

  std::map<std::string, int> LoggedEndpoints() const {
    std::map<std::string, int> out;
    for (const json& e : sim_->RequestLog()) {
      out[e["endpoint"].get<std::string>() + " " +
          std::to_string(e["status"].get<int>())]++;
    }
    return out;
  }

  static fs::path* dir_;
  std::ostringstream log_;
  std::unique_ptr<Simulator> sim_;
};
fs::path* TlsProxyTest::dir_ = nullptr;

TEST_F(TlsProxyTest, TunnelsThroughTinyproxyFromProxyUrl) {
  auto proxy = StartTinyproxy("proxy_url");
  ASSERT_TRUE(proxy);
  Client client(Yaml(TrustTestCa() + "  proxy_url: " + proxy->url() + "\n"),
                {});
  EXPECT_EQ(client.cmdb->Query(kSoql).total_size, ExpectedCount());
  EXPECT_GE(proxy->CountConnects(host_port()), 1) << proxy->log();
  EXPECT_EQ(LoggedEndpoints(),
            (std::map<std::string, int>{{"token 200", 1}, {"query 200", 1}}));
}

TEST_F(TlsProxyTest, TunnelsThroughTinyproxyFromHttpsProxy) {
  auto proxy = StartTinyproxy("https_proxy");
  ASSERT_TRUE(proxy);
  Client client(Yaml(TrustTestCa()), {{"HTTPS_PROXY", proxy->url()}});
  EXPECT_EQ(client.cmdb->Query(kSoql).total_size, ExpectedCount());
  EXPECT_GE(proxy->CountConnects(host_port()), 1) << proxy->log();
  EXPECT_EQ(LoggedEndpoints(),
            (std::map<std::string, int>{{"token 200", 1}, {"query 200", 1}}));
}

TEST_F(TlsProxyTest, NoProxyNamingTheHostBypassesTinyproxy) {
  auto proxy = StartTinyproxy("no_proxy");
  ASSERT_TRUE(proxy);
  {
    // First through the proxy, so that a silent tinyproxy cannot pass.
    Client client(Yaml(TrustTestCa()), {{"HTTPS_PROXY", proxy->url()}});
    EXPECT_EQ(client.cmdb->Query(kSoql).total_size, ExpectedCount());
  }
  int before = proxy->CountConnects(host_port());
  ASSERT_GE(before, 1) << proxy->log();
  sim_->ClearRequestLog();

  Client client(Yaml(TrustTestCa()), {{"HTTPS_PROXY", proxy->url()},
                                      {"NO_PROXY", "example.com,127.0.0.1"}});
  EXPECT_EQ(client.cmdb->Query(kSoql).total_size, ExpectedCount());
  EXPECT_EQ(proxy->CountConnects(host_port()), before)
      << "NO_PROXY was not honoured:\n"
      << proxy->log();
  EXPECT_EQ(LoggedEndpoints(),
            (std::map<std::string, int>{{"token 200", 1}, {"query 200", 1}}));
}

TEST_F(TlsProxyTest, ACaFileOfAnotherCaFailsVerification) {
  Client client(Yaml("  tls: {ca_file: " + other_ca_file() + "}\n"), {});
  try {
    client.http->Get(*ParseUrl(sim_->base_url()), "/services/data/", {});
    ADD_FAILURE() << "the simulator's certificate was accepted";
  } catch (const CmdbError& e) {
    EXPECT_EQ(e.code(), "network");
    std::string message = e.what();
    EXPECT_NE(message.find("TLS certificate verification failed"),
              std::string::npos)
        << message;
    EXPECT_NE(message.find("127.0.0.1"), std::string::npos) << message;
    EXPECT_NE(message.find(other_ca_file()), std::string::npos) << message;
  }
  // A query fails at its token request, with the same explanation.
  try {
    client.cmdb->Query(kSoql);
    ADD_FAILURE() << "the query succeeded";
  } catch (const CmdbError& e) {
    std::string message = e.what();
    EXPECT_NE(message.find("TLS certificate verification failed for 127.0.0.1"),
              std::string::npos)
        << message;
    EXPECT_NE(message.find(other_ca_file()), std::string::npos) << message;
  }
  EXPECT_TRUE(sim_->RequestLog().empty())
      << "no request may pass an unverified handshake: "
      << sim_->RequestLog().dump();
}

TEST_F(TlsProxyTest, WithoutCaFileOnlySystemCasAreTrusted) {
  // No tls.ca_file and no SSL_CERT_FILE in the (empty) environment.
  Client client(Yaml("", "localhost"), {});
  try {
    client.http->Get(*ParseUrl(sim_->base_url()), "/services/data/", {});
    ADD_FAILURE() << "the throwaway CA was trusted";
  } catch (const CmdbError& e) {
    EXPECT_EQ(e.code(), "network");
    std::string message = e.what();
    EXPECT_NE(message.find("TLS certificate verification failed"),
              std::string::npos)
        << message;
    EXPECT_NE(message.find("system CAs"), std::string::npos) << message;
  }
  try {
    client.cmdb->Query(kSoql);
    ADD_FAILURE() << "the query succeeded";
  } catch (const CmdbError& e) {
    std::string message = e.what();
    EXPECT_NE(message.find("TLS certificate verification failed for localhost"),
              std::string::npos)
        << message;
    EXPECT_NE(message.find("system CAs"), std::string::npos) << message;
  }
  EXPECT_TRUE(sim_->RequestLog().empty()) << sim_->RequestLog().dump();
}

TEST_F(TlsProxyTest, SslCertFileIsTrustedWithoutCaFile) {
  Client client(Yaml(""), {{"SSL_CERT_FILE", ca_file()}});
  EXPECT_EQ(client.cmdb->Query(kSoql).total_size, ExpectedCount());
}

TEST_F(TlsProxyTest, InsecureSkipVerifyConnectsAndWarns) {
  std::stringstream captured;
  ConfigureLogging(LogLevel::kWarn, LogFormat::kLogfmt, &captured);
  Client client(Yaml("  tls: {insecure_skip_verify: true}\n"), {});
  ConfigureLogging(LogLevel::kError, LogFormat::kLogfmt, &log_);
  EXPECT_NE(captured.str().find("TLS CERTIFICATE VERIFICATION IS OFF"),
            std::string::npos)
      << captured.str();
  EXPECT_EQ(client.cmdb->Query(kSoql).total_size, ExpectedCount());
  EXPECT_EQ(LoggedEndpoints(),
            (std::map<std::string, int>{{"token 200", 1}, {"query 200", 1}}));
}

}  // namespace
}  // namespace cloudaware_exporter
