#include "exporter/web/web.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "bcrypt_util.h"
#include "exporter/base/gzip.h"

namespace cloudaware_exporter {
namespace {

constexpr char kMetricsContentType[] =
    "text/plain; version=0.0.4; charset=utf-8";

std::vector<std::shared_ptr<const std::string>> Chunks() {
  return {
      std::make_shared<const std::string>("# HELP a_b A.\n# TYPE a_b gauge\n"),
      std::make_shared<const std::string>(""),
      std::make_shared<const std::string>("a_b 1\n"),
      // Larger than httplib's write buffer, so it takes several writes.
      std::make_shared<const std::string>(200 * 1024, 'x'),
      std::make_shared<const std::string>("\nc_d 2\n")};
}

std::string Concatenated() {
  std::string all;
  for (const auto& chunk : Chunks()) all += *chunk;
  return all;
}

WebOptions Options(const std::string& listen_address) {
  WebOptions options;
  options.listen_address = listen_address;
  return options;
}

// A server on an ephemeral loopback port with handlers the test can steer.
struct TestServer {
  explicit TestServer(WebOptions options = {}) {
    options.listen_address = "127.0.0.1:0";
    WebHandlers handlers;
    handlers.metrics = [](bool gzip) {
      if (!gzip) return Chunks();
      return GzipMember({std::make_shared<const DeflateSegment>(
          Deflate(Concatenated(), /*final=*/true, 6))});
    };
    handlers.landing_page = [] { return std::string("<html>landing</html>"); };
    handlers.status = [this] {
      ++status_calls;
      return std::string("{\"version\":\"1\"}\n");
    };
    handlers.ready = [this] { return ready.load(); };
    handlers.reload = [this] {
      ++reloads;
      std::lock_guard<std::mutex> lock(mu);
      return reload_error;
    };
    server =
        std::make_unique<WebServer>(std::move(options), std::move(handlers));
    server->Start();
    client = std::make_unique<httplib::Client>("127.0.0.1", server->port());
  }

  std::atomic<bool> ready{false};
  std::atomic<int> reloads{0};
  std::atomic<int> status_calls{0};
  std::mutex mu;
  std::string reload_error;  // guarded by mu
  std::unique_ptr<WebServer> server;
  std::unique_ptr<httplib::Client> client;
};

TEST(WebTest, MetricsBodyIsTheChunksInOrder) {
  TestServer t;
  ASSERT_GT(t.server->port(), 0);
  auto res = t.client->Get("/metrics");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->get_header_value("Content-Type"), kMetricsContentType);
  EXPECT_EQ(res->get_header_value("Content-Length"),
            std::to_string(Concatenated().size()));
  EXPECT_EQ(res->body, Concatenated());
}

TEST(WebTest, GzipOnlyWhenTheClientAsks) {
  TestServer t;
  auto plain = t.client->Get("/metrics");
  ASSERT_TRUE(plain) << httplib::to_string(plain.error());
  EXPECT_FALSE(plain->has_header("Content-Encoding"));
  EXPECT_EQ(plain->get_header_value("Vary"), "Accept-Encoding");
  EXPECT_EQ(plain->body, Concatenated());

  for (const char* accept : {"gzip", "deflate, gzip;q=0.8"}) {
    t.client->set_decompress(false);
    auto raw = t.client->Get("/metrics", {{"Accept-Encoding", accept}});
    ASSERT_TRUE(raw) << httplib::to_string(raw.error());
    EXPECT_EQ(raw->get_header_value("Content-Encoding"), "gzip") << accept;
    EXPECT_EQ(raw->get_header_value("Vary"), "Accept-Encoding");
    EXPECT_EQ(raw->body.substr(0, 2), "\x1f\x8b");
    EXPECT_EQ(raw->get_header_value("Content-Length"),
              std::to_string(raw->body.size()));
    EXPECT_LT(raw->body.size(), Concatenated().size() / 10);

    t.client->set_decompress(true);
    auto decoded = t.client->Get("/metrics", {{"Accept-Encoding", accept}});
    ASSERT_TRUE(decoded) << httplib::to_string(decoded.error());
    EXPECT_EQ(decoded->body, Concatenated());
  }
  t.client->set_decompress(false);
  auto refused = t.client->Get("/metrics", {{"Accept-Encoding", "gzip;q=0"}});
  ASSERT_TRUE(refused);
  EXPECT_FALSE(refused->has_header("Content-Encoding"));
  EXPECT_EQ(refused->body, Concatenated());
}

TEST(WebTest, HeadHasHeadersWithoutBody) {
  TestServer t;
  auto res = t.client->Head("/metrics");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->get_header_value("Content-Type"), kMetricsContentType);
  EXPECT_EQ(res->get_header_value("Content-Length"),
            std::to_string(Concatenated().size()));
  EXPECT_EQ(res->body, "");
}

TEST(WebTest, EmptyExposition) {
  WebHandlers handlers;
  handlers.metrics = [](bool) {
    return std::vector<std::shared_ptr<const std::string>>{
        std::make_shared<const std::string>("")};
  };
  WebServer server(Options("127.0.0.1:0"), handlers);
  server.Start();
  httplib::Client client("127.0.0.1", server.port());
  auto res = client.Get("/metrics");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->get_header_value("Content-Type"), kMetricsContentType);
  EXPECT_EQ(res->get_header_value("Content-Length"), "0");
  EXPECT_EQ(res->body, "");
}

TEST(WebTest, CustomTelemetryPath) {
  WebOptions options;
  options.telemetry_path = "/probe";
  TestServer t(options);
  auto res = t.client->Get("/probe");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, Concatenated());
  res = t.client->Get("/metrics");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 404);
}

TEST(WebTest, LandingPage) {
  TestServer t;
  auto res = t.client->Get("/");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, "<html>landing</html>");
  EXPECT_EQ(res->get_header_value("Content-Type"), "text/html; charset=utf-8");
  EXPECT_EQ(res->get_header_value("X-Content-Type-Options"), "nosniff");
}

TEST(WebTest, StatusIsJson) {
  TestServer t;
  auto res = t.client->Get("/status");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, "{\"version\":\"1\"}\n");
  EXPECT_EQ(res->get_header_value("Content-Type"), "application/json");
  EXPECT_EQ(t.status_calls, 1);

  res = t.client->Head("/status");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, "");

  res = t.client->Post("/status");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 405);
  EXPECT_EQ(res->get_header_value("Allow"), "GET, HEAD");
  EXPECT_EQ(t.status_calls, 2) << "only GET and HEAD build the status";
}

TEST(WebTest, StatusWithoutAHandlerIsNotFound) {
  WebOptions options;
  options.listen_address = "127.0.0.1:0";
  WebHandlers handlers;
  handlers.landing_page = [] { return std::string(); };
  WebServer server(options, handlers);
  server.Start();
  httplib::Client client("127.0.0.1", server.port());
  auto res = client.Get("/status");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 404);
}

TEST(WebTest, HealthyAndReady) {
  TestServer t;
  auto res = t.client->Get("/-/healthy");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, "Healthy\n");

  res = t.client->Get("/-/ready");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 503);
  EXPECT_EQ(res->body, "Not ready\n");

  t.ready = true;
  res = t.client->Get("/-/ready");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, "Ready\n");
}

TEST(WebTest, ReloadNeedsLifecycle) {
  TestServer t;
  auto res = t.client->Post("/-/reload");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 403);
  EXPECT_EQ(res->body, "Lifecycle API is not enabled.\n");
  EXPECT_EQ(t.reloads, 0);
}

TEST(WebTest, ReloadReportsResult) {
  WebOptions options;
  options.enable_lifecycle = true;
  TestServer t(options);
  auto res = t.client->Post("/-/reload");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->get_header_value("Content-Length"), "0");
  EXPECT_EQ(t.reloads, 1);

  {
    std::lock_guard<std::mutex> lock(t.mu);
    t.reload_error = "queries[0].soql: missing";
  }
  res = t.client->Put("/-/reload");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 500);
  EXPECT_NE(res->body.find("queries[0].soql: missing"), std::string::npos)
      << res->body;
  EXPECT_EQ(t.reloads, 2);
}

// SIGHUP reloads through the same call as POST /-/reload, which needs no
// lifecycle API.
TEST(WebTest, ReloadIsOneCallForSignalsAndTheEndpoint) {
  TestServer t;
  EXPECT_EQ(t.server->Reload(), "");
  EXPECT_EQ(t.reloads, 1);
  {
    std::lock_guard<std::mutex> lock(t.mu);
    t.reload_error = "queries[0].soql: missing";
  }
  EXPECT_EQ(t.server->Reload(),
            "failed to reload config: queries[0].soql: missing\n");
  EXPECT_EQ(t.reloads, 2);
}

TEST(WebTest, UnknownPathAndWrongMethod) {
  TestServer t;
  auto res = t.client->Get("/nope");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 404);
  EXPECT_EQ(res->body, "Not found\n");
  res = t.client->Post("/nope");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 404);

  res = t.client->Post("/metrics");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 405);
  EXPECT_EQ(res->get_header_value("Allow"), "GET, HEAD");
  res = t.client->Get("/-/reload");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 405);
  EXPECT_EQ(res->get_header_value("Allow"), "POST, PUT");
  res = t.client->Delete("/-/healthy");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 405);
}

TEST(WebTest, RejectsLargeBodies) {
  WebOptions options;
  options.enable_lifecycle = true;
  TestServer t(options);
  auto res =
      t.client->Post("/-/reload", std::string(1024 * 1024, 'x'), "text/plain");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 413);
  EXPECT_EQ(t.reloads, 0);
}

// curl -X POST sends neither Content-Length nor a body; such a request has
// no body and must be answered at once, not when the client gives up.
TEST(WebTest, ReloadWithoutContentLengthIsAnsweredAtOnce) {
  WebOptions options;
  options.enable_lifecycle = true;
  TestServer t(options);
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  timeval timeout{3, 0};  // well under the server's 5 s read timeout
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(t.server->port()));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  const std::string request =
      "POST /-/reload HTTP/1.1\r\nHost: localhost\r\nUser-Agent: curl\r\n\r\n";
  ASSERT_EQ(::send(fd, request.data(), request.size(), 0),
            static_cast<ssize_t>(request.size()));
  char buf[256] = {};
  ssize_t n = ::recv(fd, buf, sizeof buf - 1, 0);
  ::close(fd);
  ASSERT_GT(n, 0) << "no answer within 3 s";
  EXPECT_EQ(std::string(buf).rfind("HTTP/1.1 200", 0), 0u) << buf;
  EXPECT_EQ(t.reloads, 1);
}

TEST(WebTest, ConcurrentScrapes) {
  TestServer t;
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      httplib::Client client("127.0.0.1", t.server->port());
      for (int j = 0; j < 5; ++j) {
        auto res = client.Get("/metrics");
        if (res && res->status == 200 && res->body == Concatenated()) ++ok;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(ok, 20);
}

TEST(WebTest, StopIsPromptWithIdleKeepAliveConnection) {
  TestServer t;
  t.client->set_keep_alive(true);
  auto res = t.client->Get("/-/healthy");
  ASSERT_TRUE(res);
  // The server keeps the connection open for the next request.
  ASSERT_EQ(res->get_header_value("Connection"), "");
  ASSERT_NE(res->get_header_value("Keep-Alive"), "");

  const auto start = std::chrono::steady_clock::now();
  t.server->Stop();
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_LT(elapsed, std::chrono::seconds(3));
}

TEST(WebTest, ListensOnAllInterfacesWithEmptyHost) {
  WebServer server(Options(":0"), WebHandlers{});
  server.Start();
  ASSERT_GT(server.port(), 0);
  httplib::Client client("127.0.0.1", server.port());
  auto res = client.Get("/-/healthy");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
}

TEST(WebTest, BindConflictNamesTheAddress) {
  TestServer t;
  const std::string address = "127.0.0.1:" + std::to_string(t.server->port());
  WebServer second(Options(address), WebHandlers{});
  try {
    second.Start();
    FAIL() << "a second server listened on " << address;
  } catch (const std::runtime_error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("cannot listen on " + address + ": "),
              std::string::npos)
        << what;
    EXPECT_NE(what.find("in use"), std::string::npos) << what;
  }
}

TEST(WebTest, BadAddressIsAnError) {
  for (const char* address :
       {"localhost", "127.0.0.1:65536", "127.0.0.1:http"}) {
    WebServer server(Options(address), WebHandlers{});
    try {
      server.Start();
      ADD_FAILURE() << address << " was accepted";
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find(std::string("cannot listen on ") +
                                           address),
                std::string::npos)
          << e.what();
    }
  }
}

// TLS, basic auth and headers from a web config. Certificates come from
// simulator/gen-certs.sh: certs/ (CA, server, client) and other/ (a
// second, unrelated CA with its own server and client).
class WebConfigServingTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ =
        new std::filesystem::path(std::filesystem::temp_directory_path() /
                                  ("web-test-" + std::to_string(::getpid())));
    for (const char* name : {"certs", "other"}) {
      const std::string command =
          std::string(GEN_CERTS_SCRIPT) + " " + (*root_ / name).string();
      ASSERT_EQ(std::system(command.c_str()), 0) << command;
    }
  }
  static void TearDownTestSuite() {
    std::filesystem::remove_all(*root_);
    delete root_;
  }

  void SetUp() override {
    dir_ = *root_ /
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::create_directories(dir_);
    certs_ = *root_ / "certs";
    other_ = *root_ / "other";
  }

  // Writes the web config into the test's directory and loads it.
  WebOptions Options(const std::string& yaml) {
    std::ofstream(dir_ / "web.yml") << yaml;
    WebOptions options;
    options.web_config = LoadWebConfig((dir_ / "web.yml").string());
    return options;
  }

  std::string Tls(const std::string& extra = "") const {
    return "tls_server_config:\n  cert_file: " +
           (certs_ / "server.pem").string() +
           "\n  key_file: " + (certs_ / "server.key").string() + "\n" + extra;
  }

  static std::unique_ptr<httplib::SSLClient> Https(
      int port, const std::filesystem::path& ca,
      const std::filesystem::path& client_dir = {}) {
    auto client =
        client_dir.empty()
            ? std::make_unique<httplib::SSLClient>("127.0.0.1", port)
            : std::make_unique<httplib::SSLClient>(
                  "127.0.0.1", port, (client_dir / "client.pem").string(),
                  (client_dir / "client.key").string());
    client->set_ca_cert_path((ca / "ca.pem").string());
    client->enable_server_certificate_verification(true);
    client->set_connection_timeout(5);
    client->set_read_timeout(5);
    return client;
  }

  static std::filesystem::path* root_;
  std::filesystem::path dir_, certs_, other_;
};

std::filesystem::path* WebConfigServingTest::root_ = nullptr;

TEST_F(WebConfigServingTest, ServesHttpsWithTheConfiguredCertificate) {
  TestServer t(Options(Tls()));
  auto res = Https(t.server->port(), certs_)->Get("/metrics");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, Concatenated());
  // No plain HTTP on the same port, and no certificate from another CA.
  EXPECT_FALSE(t.client->Get("/metrics"));
  EXPECT_FALSE(Https(t.server->port(), other_)->Get("/metrics"));
}

TEST_F(WebConfigServingTest, MinVersionTls13RefusesTls12Clients) {
  TestServer t(Options(Tls("  min_version: TLS13\n")));
  auto tls12 = Https(t.server->port(), certs_);
  SSL_CTX_set_max_proto_version(tls12->ssl_context(), TLS1_2_VERSION);
  auto res = tls12->Get("/-/healthy");
  EXPECT_FALSE(res) << res->status;

  auto tls13 = Https(t.server->port(), certs_);
  SSL_CTX_set_min_proto_version(tls13->ssl_context(), TLS1_3_VERSION);
  res = tls13->Get("/-/healthy");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200);
}

TEST_F(WebConfigServingTest, MaxVersionTls12RefusesTls13OnlyClients) {
  TestServer t(Options(Tls("  max_version: TLS12\n")));
  auto tls13 = Https(t.server->port(), certs_);
  SSL_CTX_set_min_proto_version(tls13->ssl_context(), TLS1_3_VERSION);
  EXPECT_FALSE(tls13->Get("/-/healthy"));
  auto res = Https(t.server->port(), certs_)->Get("/-/healthy");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200);
}

TEST_F(WebConfigServingTest, CipherSuitesApplyToTls12) {
  TestServer t(
      Options(Tls("  max_version: TLS12\n  cipher_suites: "
                  "[TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384]\n")));
  auto other_suite = Https(t.server->port(), certs_);
  SSL_CTX_set_cipher_list(other_suite->ssl_context(),
                          "ECDHE-RSA-AES128-GCM-SHA256");
  EXPECT_FALSE(other_suite->Get("/-/healthy"));
  auto res = Https(t.server->port(), certs_)->Get("/-/healthy");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200);
}

// The client's first key share (X25519) is not acceptable, so the server
// asks for another (a TLS 1.3 HelloRetryRequest) and the settings must hold
// for the second ClientHello too.
TEST_F(WebConfigServingTest, CurvePreferencesApply) {
  TestServer t(Options(Tls("  curve_preferences: [CurveP384]\n")));
  auto x25519_only = Https(t.server->port(), certs_);
  SSL_CTX_set1_groups_list(x25519_only->ssl_context(), "X25519");
  EXPECT_FALSE(x25519_only->Get("/-/healthy"));
  auto res = Https(t.server->port(), certs_)->Get("/-/healthy");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200);
}

TEST_F(WebConfigServingTest, RequireAndVerifyClientCert) {
  TestServer t(
      Options(Tls("  client_ca_file: " + (certs_ / "ca.pem").string() +
                  "\n  client_auth_type: RequireAndVerifyClientCert\n")));
  const int port = t.server->port();
  EXPECT_FALSE(Https(port, certs_)->Get("/metrics")) << "no certificate";
  EXPECT_FALSE(Https(port, certs_, other_)->Get("/metrics"))
      << "a certificate from another CA";
  auto res = Https(port, certs_, certs_)->Get("/metrics");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, Concatenated());
}

TEST_F(WebConfigServingTest, RequireAnyClientCertDoesNotVerifyIt) {
  TestServer t(Options(Tls("  client_auth_type: RequireAnyClientCert\n")));
  const int port = t.server->port();
  EXPECT_FALSE(Https(port, certs_)->Get("/-/healthy"));
  auto res = Https(port, certs_, other_)->Get("/-/healthy");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200);
}

TEST_F(WebConfigServingTest, PicksUpARenewedCertificate) {
  namespace fs = std::filesystem;
  const auto copy = [&](const fs::path& from, const char* name) {
    fs::copy_file(from / name, dir_ / name,
                  fs::copy_options::overwrite_existing);
  };
  copy(certs_, "server.pem");
  copy(certs_, "server.key");
  TestServer t(
      Options("tls_server_config: {cert_file: server.pem, "
              "key_file: server.key}\n"));
  const int port = t.server->port();
  auto res = Https(port, certs_)->Get("/-/healthy");
  ASSERT_TRUE(res) << httplib::to_string(res.error());

  // Half-way through a renewal the key does not match yet: the old pair
  // stays in use.
  copy(other_, "server.pem");
  res = Https(port, certs_)->Get("/-/healthy");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200);

  copy(other_, "server.key");
  res = Https(port, other_)->Get("/-/healthy");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200);
  EXPECT_FALSE(Https(port, certs_)->Get("/-/healthy"));
}

class WebAuthTest : public WebConfigServingTest {
 protected:
  void SetUp() override {
    WebConfigServingTest::SetUp();
    users_ =
        "basic_auth_users:\n  alice: " + test_util::BcryptHash("alice-pw") +
        "\n  bob: " + test_util::BcryptHash("bob-pw") + "\n";
  }

  static void ExpectUnauthorized(const httplib::Result& res,
                                 const std::string& what) {
    ASSERT_TRUE(res) << what << ": " << httplib::to_string(res.error());
    EXPECT_EQ(res->status, 401) << what;
    EXPECT_EQ(res->get_header_value("WWW-Authenticate"),
              "Basic realm=\"cloudaware_exporter\"")
        << what;
    EXPECT_EQ(res->body, "Unauthorized\n") << what;
  }

  std::string users_;
};

TEST_F(WebAuthTest, EveryEndpointNeedsCredentials) {
  WebOptions options = Options(users_);
  options.enable_lifecycle = true;
  TestServer t(std::move(options));
  t.ready = true;
  for (const char* path :
       {"/metrics", "/", "/status", "/-/healthy", "/-/ready", "/nope"}) {
    ExpectUnauthorized(t.client->Get(path), path);
  }
  ExpectUnauthorized(t.client->Post("/-/reload"), "POST /-/reload");
  ExpectUnauthorized(t.client->Post("/metrics"), "POST /metrics");
  ExpectUnauthorized(t.client->Post("/status"), "POST /status");
  EXPECT_EQ(t.reloads, 0);
  EXPECT_EQ(t.status_calls, 0);

  t.client->set_basic_auth("alice", "alice-pw");
  for (const char* path :
       {"/metrics", "/", "/status", "/-/healthy", "/-/ready"}) {
    auto res = t.client->Get(path);
    ASSERT_TRUE(res) << path;
    EXPECT_EQ(res->status, 200) << path;
  }
  auto res = t.client->Get("/metrics");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->body, Concatenated());
  res = t.client->Get("/nope");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 404);
  res = t.client->Post("/-/reload");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(t.reloads, 1);
}

TEST_F(WebAuthTest, BadCredentialsAllLookTheSame) {
  TestServer t(Options(users_));
  httplib::Client c("127.0.0.1", t.server->port());
  ExpectUnauthorized(c.Get("/metrics"), "no header");
  c.set_basic_auth("alice", "bob-pw");
  ExpectUnauthorized(c.Get("/metrics"), "wrong password");
  c.set_basic_auth("carol", "alice-pw");
  ExpectUnauthorized(c.Get("/metrics"), "unknown user");
  for (const char* header :
       {"Basic !!!", "Basic", "Bearer abc", "Basic YWxpY2U="}) {
    ExpectUnauthorized(t.client->Get("/metrics", {{"Authorization", header}}),
                       header);
  }
  // Two Authorization headers, even if both are right.
  ExpectUnauthorized(
      t.client->Get("/metrics",
                    {{"Authorization", "Basic YWxpY2U6YWxpY2UtcHc="},
                     {"Authorization", "Basic Ym9iOmJvYi1wdw=="}}),
      "two headers");
  c.set_basic_auth("bob", "bob-pw");
  auto res = c.Get("/metrics");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
}

TEST_F(WebAuthTest, ASuccessIsCached) {
  TestServer t(Options(users_));
  t.client->set_basic_auth("alice", "alice-pw");
  for (int i = 0; i < 3; ++i) {
    auto res = t.client->Get("/metrics");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200);
  }
  EXPECT_EQ(t.server->auth_stats().bcrypt_runs, 1u);
}

// Several clients send wrong passwords the caches have not seen, as fast
// as they can: each gets 401, and never do two bcrypt computations run at
// once (the default allows one). Counted, not timed.
TEST_F(WebAuthTest, FloodOfWrongPasswordsRunsOneBcryptAtATime) {
  // Cost 6: a few milliseconds, so that the clients do contend.
  const std::string users =
      "basic_auth_users:\n  alice: " + test_util::BcryptHash("alice-pw", 6) +
      "\n";
  TestServer t(Options(users));
  constexpr int kThreads = 6;
  constexpr int kAttempts = 8;
  std::atomic<int> unauthorized{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      httplib::Client c("127.0.0.1", t.server->port());
      c.set_read_timeout(30);
      for (int j = 0; j < kAttempts; ++j) {
        c.set_basic_auth(
            i % 2 ? "alice" : "mallory",
            "guess-" + std::to_string(i) + "-" + std::to_string(j));
        auto res = c.Get("/metrics");
        if (res && res->status == 401) ++unauthorized;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(unauthorized.load(), kThreads * kAttempts);
  const BasicAuth::Stats stats = t.server->auth_stats();
  EXPECT_EQ(stats.bcrypt_runs + stats.busy,
            static_cast<uint64_t>(kThreads * kAttempts));
  EXPECT_GE(stats.bcrypt_runs, 1u);
  EXPECT_EQ(stats.max_concurrent_seen, BasicAuthOptions{}.max_concurrent);

  t.client->set_basic_auth("alice", "alice-pw");
  auto res = t.client->Get("/metrics");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
}

TEST_F(WebAuthTest, TlsAndBasicAuthTogether) {
  TestServer t(Options(Tls() + users_));
  auto c = Https(t.server->port(), certs_);
  ExpectUnauthorized(c->Get("/metrics"), "no credentials over TLS");
  c->set_basic_auth("bob", "bob-pw");
  auto res = c->Get("/metrics");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, Concatenated());
}

TEST_F(WebAuthTest, ConfiguredHeadersOnEveryAnswer) {
  TestServer t(Options(users_ + R"(http_server_config:
  headers:
    X-Frame-Options: deny
    X-Content-Type-Options: nosniff
    Content-Security-Policy: default-src 'self'
)"));
  auto check = [](const httplib::Result& res, int status) {
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, status);
    EXPECT_EQ(res->get_header_value("X-Frame-Options"), "deny");
    EXPECT_EQ(res->get_header_value("Content-Security-Policy"),
              "default-src 'self'");
    // Set by default as well, and still sent once.
    EXPECT_EQ(res->get_header_value_count("X-Content-Type-Options"), 1u);
  };
  check(t.client->Get("/metrics"), 401);
  t.client->set_basic_auth("alice", "alice-pw");
  check(t.client->Get("/metrics"), 200);
  check(t.client->Get("/nope"), 404);
}

TEST_F(WebAuthTest, ReloadAppliesNewUsersAndKeepsTheOldOnesOnError) {
  WebOptions options = Options(users_);
  options.enable_lifecycle = true;
  TestServer t(std::move(options));
  httplib::Client alice("127.0.0.1", t.server->port());
  alice.set_basic_auth("alice", "alice-pw");
  httplib::Client carol("127.0.0.1", t.server->port());
  carol.set_basic_auth("carol", "carol-pw");
  ASSERT_EQ(alice.Get("/metrics")->status, 200);
  ASSERT_EQ(carol.Get("/metrics")->status, 401);

  std::ofstream(dir_ / "web.yml")
      << "basic_auth_users:\n  carol: " << test_util::BcryptHash("carol-pw")
      << "\n";
  auto res = alice.Post("/-/reload");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(alice.Get("/metrics")->status, 401);
  EXPECT_EQ(carol.Get("/metrics")->status, 200);

  const std::string file = (dir_ / "web.yml").string();
  std::ofstream(dir_ / "web.yml") << "basic_auth_users:\n  carol: hunter2\n";
  res = carol.Post("/-/reload");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 500);
  EXPECT_EQ(res->body, "failed to reload web config: " + file +
                           ":2:10: basic_auth_users.carol: is not a bcrypt "
                           "hash: want $2a$, $2b$ or $2y$, a cost from 04 to "
                           "31 and 53 more characters, as `htpasswd -nbB "
                           "USER PASSWORD` prints after the ':'\n");
  EXPECT_EQ(carol.Get("/metrics")->status, 200);

  // The listener cannot change from HTTP to HTTPS under way.
  std::ofstream(dir_ / "web.yml") << Tls();
  EXPECT_EQ(t.server->ReloadWebConfig(),
            file +
                ": tls_server_config: turning TLS on or off needs a "
                "restart");
  EXPECT_EQ(carol.Get("/metrics")->status, 200);

  // Nothing configured any more: open to all.
  std::ofstream(dir_ / "web.yml") << "";
  EXPECT_EQ(t.server->ReloadWebConfig(), "");
  EXPECT_EQ(t.client->Get("/metrics")->status, 200);
}

TEST_F(WebConfigServingTest, ReloadAppliesNewTlsSettings) {
  TestServer t(Options(Tls()));
  // A new client each time: a kept-alive connection would skip the
  // handshake.
  auto tls12_get = [&] {
    auto client = Https(t.server->port(), certs_);
    SSL_CTX_set_max_proto_version(client->ssl_context(), TLS1_2_VERSION);
    return client->Get("/-/healthy");
  };
  auto res = tls12_get();
  ASSERT_TRUE(res) << httplib::to_string(res.error());

  std::ofstream(dir_ / "web.yml") << Tls("  min_version: TLS13\n");
  ASSERT_EQ(t.server->ReloadWebConfig(), "");
  EXPECT_FALSE(tls12_get());
}

// deploy/examples/web-config.yml, with certificates where it expects them.
TEST_F(WebConfigServingTest, ShippedExampleWorks) {
  namespace fs = std::filesystem;
  fs::create_directories(dir_ / "tls");
  fs::copy_file(certs_ / "server.pem", dir_ / "tls/server.pem");
  fs::copy_file(certs_ / "server.key", dir_ / "tls/server.key");
  fs::copy_file(EXAMPLE_WEB_CONFIG, dir_ / "web-config.yml");
  WebOptions options;
  options.web_config = LoadWebConfig((dir_ / "web-config.yml").string());
  CheckWebConfig(*options.web_config);
  TestServer t(std::move(options));
  auto c = Https(t.server->port(), certs_);
  auto res = c->Get("/metrics");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 401);
  EXPECT_EQ(res->get_header_value("X-Frame-Options"), "deny");
  c->set_basic_auth("prometheus", "change-me");
  res = c->Get("/metrics");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->get_header_value("Strict-Transport-Security"),
            "max-age=31536000");
}

TEST_F(WebConfigServingTest, CheckWebConfigLoadsTheFiles) {
  namespace fs = std::filesystem;
  const std::string file = (dir_ / "web.yml").string();
  auto error_of = [&](const std::string& yaml) -> std::string {
    try {
      CheckWebConfig(*Options(yaml).web_config);
    } catch (const WebConfigError& e) {
      return e.what();
    }
    return "";
  };
  EXPECT_EQ(error_of(Tls()), "");

  std::ofstream(dir_ / "junk.pem") << "not a certificate\n";
  const std::string junk = (dir_ / "junk.pem").string();
  std::string error = error_of(
      "tls_server_config:\n  cert_file: junk.pem\n"
      "  key_file: " +
      (certs_ / "server.key").string() + "\n");
  EXPECT_EQ(error.rfind(file +
                            ":2:14: tls_server_config.cert_file: no PEM "
                            "certificate in " +
                            junk + ": ",
                        0),
            0u)
      << error;

  EXPECT_EQ(
      error_of("tls_server_config:\n  cert_file: " +
               (certs_ / "server.pem").string() + "\n  key_file: junk.pem\n"),
      file +
          ":3:13: tls_server_config.key_file: no unencrypted PEM "
          "private key in " +
          junk);

  EXPECT_EQ(error_of("tls_server_config:\n  cert_file: " +
                     (certs_ / "server.pem").string() + "\n  key_file: " +
                     (other_ / "server.key").string() + "\n"),
            file + ":3:13: tls_server_config.key_file: the private key in " +
                (other_ / "server.key").string() +
                " does not belong to the certificate in " +
                (certs_ / "server.pem").string());

  EXPECT_EQ(
      error_of(Tls("  client_ca_file: junk.pem\n  client_auth_type: "
                   "RequireAndVerifyClientCert\n")),
      file + ":4:19: tls_server_config.client_ca_file: no PEM certificate in " +
          junk);
}

}  // namespace
}  // namespace cloudaware_exporter
