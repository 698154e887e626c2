// The application unit against the in-process CMDB simulator: the order of
// queries on /metrics, reloads that keep or drop self metrics, a refused
// reload, readiness across reloads, and several orgs.
#include "exporter/app/exporter.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>

#include "exporter/base/log.h"
#include "simulator/simulator.h"
#include "util/fake_env.h"
#include "util/simulator.h"

namespace cloudaware_exporter {
namespace {

namespace fs = std::filesystem;

constexpr char kClientId[] = "app-client";
constexpr char kSecret[] = "app-secret-value";

// A query and its one metric, as an item of a `queries:` list.
std::string Query(const std::string& name, const std::string& indent = "") {
  return indent + "  - name: " + name + "\n" + indent +
         "    soql: SELECT COUNT() FROM CA10__CaAwsInstance__c\n" + indent +
         "    metrics:\n" + indent + "      - name: cloudaware_" + name +
         "_total\n";
}

class ExporterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ConfigureLogging(LogLevel::kError, LogFormat::kLogfmt, &log_);
    sim_ = test_util::StartSimulator(500, 3, kClientId, kSecret);
    dir_ = fs::path(testing::TempDir()) /
           ("exporter_test_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override {
    exporter_.reset();
    sim_->Stop();
    fs::remove_all(dir_);
    ConfigureLogging(LogLevel::kInfo, LogFormat::kLogfmt);
  }

  std::string Cloudaware(const std::string& indent = "") {
    return indent + "cloudaware:\n" + indent + "  url: " + sim_->base_url() +
           "\n" + indent + "  client_id: " + kClientId + "\n" + indent +
           "  client_secret: " + kSecret + "\n" + indent + "  max_retries: 0\n";
  }
  void Write(const std::string& yaml) { std::ofstream(File()) << yaml; }
  std::string File() const { return (dir_ / "exporter.yml").string(); }

  void Start(const std::string& yaml) {
    Write(yaml);
    OrgOptions options;
    options.env = test_util::FakeEnv();
    exporter_ = std::make_unique<Exporter>(
        File(), LoadConfig(File(), options.env), nullptr, options);
  }

  std::string Metrics() {
    std::string text;
    for (const auto& chunk : exporter_->Exposition(false)) text += *chunk;
    return text;
  }

  std::ostringstream log_;
  std::unique_ptr<cmdb_simulator::Simulator> sim_;
  fs::path dir_;
  std::unique_ptr<Exporter> exporter_;
};

TEST_F(ExporterTest, ServesQueriesInTheConfigsOrder) {
  Start(Cloudaware() + "queries:\n" + Query("zeta") + Query("alpha"));
  ASSERT_TRUE(exporter_->PollOnce()) << log_.str();
  const std::string text = Metrics();
  const size_t zeta = text.find("\ncloudaware_zeta_total ");
  const size_t alpha = text.find("\ncloudaware_alpha_total ");
  ASSERT_NE(zeta, std::string::npos) << text;
  ASSERT_NE(alpha, std::string::npos) << text;
  EXPECT_LT(zeta, alpha);
}

TEST_F(ExporterTest, AReloadKeepsCountersAndDropsTheSeriesOfGoneQueries) {
  Start(Cloudaware() + "queries:\n" + Query("zeta") + Query("alpha"));
  ASSERT_TRUE(exporter_->PollOnce()) << log_.str();
  EXPECT_NE(Metrics().find("cloudaware_query_success{query=\"zeta\"} 1"),
            std::string::npos);

  Write(Cloudaware() + "queries:\n" + Query("alpha"));
  ASSERT_EQ(exporter_->Reload(), "");
  ASSERT_TRUE(exporter_->PollOnce()) << log_.str();
  const std::string text = Metrics();
  EXPECT_EQ(text.find("query=\"zeta\""), std::string::npos) << text;
  EXPECT_EQ(text.find("cloudaware_zeta_total"), std::string::npos) << text;
  EXPECT_NE(text.find("cloudaware_alpha_total "), std::string::npos) << text;
  // The new pipeline asked for a token of its own; the counter carried on.
  EXPECT_NE(text.find("cloudaware_token_requests_total{result=\"success\"} 2"),
            std::string::npos)
      << text;
}

TEST_F(ExporterTest, ARefusedReloadKeepsTheConfigAndSaysWhy) {
  Start(Cloudaware() + "queries:\n" + Query("alpha"));
  ASSERT_TRUE(exporter_->PollOnce()) << log_.str();
  Write(Cloudaware() + "queries: 7\n");
  const std::string error = exporter_->Reload();
  EXPECT_NE(error.find(File()), std::string::npos) << error;
  EXPECT_NE(error.find("queries"), std::string::npos) << error;
  ASSERT_TRUE(exporter_->PollOnce());
  EXPECT_NE(Metrics().find("cloudaware_alpha_total "), std::string::npos);
}

TEST_F(ExporterTest, StaysReadyAcrossAReload) {
  Start(Cloudaware() + "queries:\n" + Query("alpha"));
  EXPECT_FALSE(exporter_->Ready());
  ASSERT_TRUE(exporter_->PollOnce());
  EXPECT_TRUE(exporter_->Ready());
  Write(Cloudaware() + "queries:\n" + Query("beta"));
  ASSERT_EQ(exporter_->Reload(), "");
  EXPECT_TRUE(exporter_->Ready()) << "old results are still served";
}

TEST_F(ExporterTest, SeveralOrgsInTheConfigsOrderEachWithItsLabel) {
  Start("orgs:\n  - name: staging\n" + Cloudaware("    ") + "    queries:\n" +
        Query("alpha", "    ") + "  - name: prod\n" + Cloudaware("    ") +
        "    queries:\n" + Query("alpha", "    "));
  ASSERT_TRUE(exporter_->PollOnce()) << log_.str();
  const std::string text = Metrics();
  const size_t staging = text.find("cloudaware_alpha_total{org=\"staging\"}");
  const size_t prod = text.find("cloudaware_alpha_total{org=\"prod\"}");
  ASSERT_NE(staging, std::string::npos) << text;
  ASSERT_NE(prod, std::string::npos) << text;
  EXPECT_LT(staging, prod);
  EXPECT_NE(text.find("cloudaware_up{org=\"prod\"} 1"), std::string::npos);
  EXPECT_NE(text.find("cloudaware_up{org=\"staging\"} 1"), std::string::npos);
  const std::string status = exporter_->StatusText();
  EXPECT_NE(status.find("\"name\": \"staging\""), std::string::npos) << status;
  EXPECT_EQ(status.find(kSecret), std::string::npos) << status;
}

// A token the API accepted and later refuses has ended its session, however
// young: the exporter renews it at once, in one request for all workers,
// and no query fails.
TEST_F(ExporterTest, ATokenExpiringSecondsAfterItsIssueIsRenewedOnce) {
  std::string queries;
  for (const char* name : {"q1", "q2", "q3", "q4"}) {
    queries += Query(name) + "    interval: 1s\n";
  }
  Start(Cloudaware() + "  max_concurrency: 4\nqueries:\n" + queries);
  const auto started = std::chrono::steady_clock::now();
  exporter_->Start();
  for (int i = 0; i < 100 && !exporter_->Ready(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(exporter_->Ready()) << log_.str();
  std::this_thread::sleep_until(started + std::chrono::seconds(2));
  sim_->ExpireAllTokens();
  // Three more cycles of every query.
  std::this_thread::sleep_for(std::chrono::seconds(3));
  exporter_->Stop();

  int tokens = 0;
  for (const auto& e : sim_->RequestLog()) tokens += e["endpoint"] == "token";
  EXPECT_EQ(tokens, 2) << "exactly one new token";
  const std::string text = Metrics();
  EXPECT_EQ(text.find("cloudaware_query_errors_total{"), std::string::npos)
      << text;
  for (const char* name : {"q1", "q2", "q3", "q4"}) {
    EXPECT_NE(text.find("cloudaware_query_success{query=\"" +
                        std::string(name) + "\"} 1"),
              std::string::npos)
        << name;
  }
  EXPECT_NE(text.find("cloudaware_token_valid 1"), std::string::npos);
}

}  // namespace
}  // namespace cloudaware_exporter
