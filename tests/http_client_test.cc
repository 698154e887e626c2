// HttpClient's bounds against a local server that misbehaves on purpose:
// an answer that trickles in forever, one that is too large, and a wait cut
// short by Stop().
#include "exporter/cmdb/http_client.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include "exporter/cmdb/cmdb_client.h"

namespace cloudaware_exporter {
namespace {

class HttpClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // One byte every 100 ms for up to 10 s: never idle for long, never done.
    server_.Get("/trickle", [this](const httplib::Request&,
                                   httplib::Response& res) {
      res.set_chunked_content_provider(
          "application/json", [this](size_t offset, httplib::DataSink& sink) {
            if (stopping_ || offset >= 100) {
              sink.done();
              return true;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
            sink.write(" ", 1);
            return true;
          });
    });
    server_.Get("/large", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(std::string(4096, 'x'), "application/json");
    });
    server_.Get("/small", [](const httplib::Request&, httplib::Response& res) {
      res.set_content("{}", "application/json");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    base_ = *ParseUrl("http://127.0.0.1:" + std::to_string(port_));
    config_.url = base_.Base();
  }
  void TearDown() override {
    stopping_ = true;
    server_.stop();
    thread_.join();
  }

  static EnvLookup NoEnv() {
    return [](const std::string&) -> std::optional<std::string> {
      return std::nullopt;
    };
  }

  std::string ErrorOf(HttpClient& http, const std::string& path) {
    try {
      http.Get(base_, path, {});
    } catch (const CmdbError& e) {
      return e.code() + ": " + e.what();
    }
    return "no error";
  }

  httplib::Server server_;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  int port_ = 0;
  Url base_;
  CloudawareConfig config_;
};

TEST_F(HttpClientTest, TotalTimeoutEndsATrickle) {
  config_.request_timeout = std::chrono::milliseconds(700);
  config_.read_timeout = std::chrono::milliseconds(700);
  HttpClient http(config_, NoEnv());
  std::string error = ErrorOf(http, "/trickle");
  EXPECT_EQ(error.rfind("timeout: 127.0.0.1: no complete answer within", 0), 0)
      << error;
  EXPECT_NE(error.find("(request_timeout)"), std::string::npos) << error;
  // The client still works for the next request.
  EXPECT_EQ(http.Get(base_, "/small", {}).body, "{}");
}

TEST_F(HttpClientTest, AbandonsAnswersOverMaxResponseSize) {
  config_.max_response_size = 1024;
  HttpClient http(config_, NoEnv());
  std::string error = ErrorOf(http, "/large");
  EXPECT_EQ(error,
            "too_large: 127.0.0.1: the answer exceeds max_response_size (1024 "
            "bytes)");
  EXPECT_EQ(http.Get(base_, "/small", {}).body, "{}");

  config_.max_response_size = 4096;
  HttpClient roomy(config_, NoEnv());
  EXPECT_EQ(roomy.Get(base_, "/large", {}).body.size(), 4096u);
}

TEST_F(HttpClientTest, StopEndsWaitsAndRequestsInFlight) {
  HttpClient http(config_, NoEnv());
  EXPECT_TRUE(http.Wait(std::chrono::milliseconds(1)));
  std::atomic<bool> waited{true};
  std::string error;
  std::thread waiter([&] { waited = http.Wait(std::chrono::minutes(10)); });
  std::thread requester([&] { error = ErrorOf(http, "/trickle"); });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  http.Stop();
  waiter.join();
  requester.join();
  EXPECT_FALSE(waited) << "Stop() ends a wait";
  EXPECT_EQ(error.rfind("network: ", 0), 0) << error;
  EXPECT_EQ(ErrorOf(http, "/small"), "network: the exporter is shutting down");
}

}  // namespace
}  // namespace cloudaware_exporter
