#include "exporter/web.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

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
    handlers.metrics = [] { return Chunks(); };
    handlers.landing_page = [] { return std::string("<html>landing</html>"); };
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
  handlers.metrics = [] {
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

}  // namespace
}  // namespace cloudaware_exporter
