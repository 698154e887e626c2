// --config.discover against the simulator, over inventories of different
// shapes: the written config follows the org, passes the online check and a
// poll, and the API calls spent stay within the stated plan and the budget.
#include "exporter/app/discover.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <fstream>
#include <memory>
#include <regex>
#include <sstream>
#include <string>

#include "exporter/app/exporter.h"
#include "exporter/app/online_check.h"
#include "exporter/base/log.h"
#include "exporter/config/config.h"
#include "simulator/inventory.h"
#include "simulator/simulator.h"

namespace cloudaware_exporter {
namespace {

using nlohmann::json;

constexpr char kEc2[] = "CA10__CaAwsInstance__c";

std::shared_ptr<const cmdb_simulator::Inventory> Default() {
  cmdb_simulator::GenerateOptions gen;
  gen.records = 2000;
  gen.seed = 7;
  return std::make_shared<const cmdb_simulator::Inventory>(
      cmdb_simulator::Inventory::Generate(gen));
}

// The default inventory without Azure objects.
std::shared_ptr<const cmdb_simulator::Inventory> NoAzure() {
  json doc = Default()->ToJson();
  json schema = json::array();
  for (const json& o : doc["schema"]) {
    const std::string name = o["name"];
    if (name.find("Azure") == std::string::npos) {
      schema.push_back(o);
    } else {
      doc["records"].erase(name);
    }
  }
  doc["schema"] = schema;
  return std::make_shared<const cmdb_simulator::Inventory>(
      cmdb_simulator::Inventory::FromJson(doc));
}

// EC2 without CA10__regionName__c, with a caTag_costCenter__c tag.
std::shared_ptr<const cmdb_simulator::Inventory> Ec2Reshaped() {
  json doc = Default()->ToJson();
  for (json& o : doc["schema"]) {
    if (o["name"] != kEc2) continue;
    json fields = json::array();
    for (const json& f : o["fields"]) {
      if (f["name"] != "CA10__regionName__c") fields.push_back(f);
    }
    fields.push_back({{"name", "caTag_costCenter__c"},
                      {"label", "Tag: costCenter"},
                      {"type", "string"}});
    o["fields"] = fields;
  }
  size_t i = 0;
  for (json& r : doc["records"][kEc2]) {
    r.erase("CA10__regionName__c");
    r["caTag_costCenter__c"] = i++ % 2 ? "cc-1" : "cc-2";
  }
  return std::make_shared<const cmdb_simulator::Inventory>(
      cmdb_simulator::Inventory::FromJson(doc));
}

class DiscoverTest : public ::testing::Test {
 protected:
  void Start(std::shared_ptr<const cmdb_simulator::Inventory> inventory) {
    ConfigureLogging(LogLevel::kError, LogFormat::kLogfmt, &log_);
    cmdb_simulator::SimulatorOptions options;
    options.inventory = std::move(inventory);
    options.client_id = "d-client";
    options.client_secret = "d-secret-value";
    sim_ = std::make_unique<cmdb_simulator::Simulator>(options);
    sim_->Start();
    setenv("DISCOVER_TEST_SECRET", "d-secret-value", 1);
    const std::string dir = ::testing::TempDir();
    source_ = dir + "/discover_source.yml";
    out_ = dir + "/discover_out.yml";
    std::ofstream(source_) << "# source\ncloudaware:\n  url: "
                           << sim_->base_url()
                           << "\n  client_id: d-client\n"
                              "  client_secret: ${DISCOVER_TEST_SECRET}\n"
                              "  max_retries: 0\nqueries:\n  - name: seed\n"
                              "    soql: SELECT COUNT() FROM "
                              "CA10__CaAwsInstance__c\n    metrics:\n"
                              "      - name: cloudaware_seed\n"
                              "        help: Seed.\n";
  }
  void TearDown() override {
    if (sim_) sim_->Stop();
    ConfigureLogging(LogLevel::kInfo, LogFormat::kLogfmt);
  }

  // Runs the discovery; returns the written file's text.
  std::string Run(size_t max_calls) {
    Config source = LoadConfig(source_);
    sim_->ClearRequestLog();
    EXPECT_TRUE(
        Discover(source.orgs[0].cloudaware, source_, out_, max_calls, report_))
        << report_.str();
    calls_ = 0;
    for (const json& e : sim_->RequestLog()) calls_ += e["counted"].get<bool>();
    std::ifstream in(out_);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }

  // The "at most N API calls" the discovery stated before counting.
  size_t Stated() const {
    std::smatch m;
    const std::string r = report_.str();
    EXPECT_TRUE(
        std::regex_search(r, m, std::regex("will spend at most (\\d+)")))
        << r;
    return m.empty() ? 0 : std::stoul(m[1]);
  }

  void ExpectWorks() {
    Config written = LoadConfig(out_);
    std::ostringstream check;
    EXPECT_TRUE(CheckOnline(written.orgs[0].cloudaware, written.orgs[0].queries,
                            written.max_label_value_length, check))
        << check.str();
    Exporter exporter(out_, std::move(written), nullptr, OrgOptions{});
    EXPECT_TRUE(exporter.PollOnce());
  }

  std::stringstream log_;
  std::ostringstream report_;
  std::unique_ptr<cmdb_simulator::Simulator> sim_;
  std::string source_, out_;
  size_t calls_ = 0;
};

TEST_F(DiscoverTest, DefaultInventory) {
  Start(Default());
  const std::string text = Run(100);
  EXPECT_NE(text.find("${DISCOVER_TEST_SECRET}"), std::string::npos);
  EXPECT_EQ(text.find("d-secret-value"), std::string::npos);
  EXPECT_NE(text.find("GROUP BY CA10__regionName__c"), std::string::npos);
  EXPECT_NE(text.find("CA10__disappearanceTime__c = null"), std::string::npos);
  EXPECT_NE(text.find("FROM CA10__CaAzure"), std::string::npos);
  // Azure VMs grouped by subscription, through the lookup to the
  // subscription object (CA10__CaAzureAccount__c).
  EXPECT_NE(text.find("SELECT CA10__subscription__r.CA10__subscriptionId__c "
                      "account, COUNT(Id) n FROM "
                      "CA10__CaAzureVirtualMachine__c"),
            std::string::npos)
      << text;
  EXPECT_LE(calls_, Stated());
  EXPECT_LE(calls_, 100u);
  ExpectWorks();
}

TEST_F(DiscoverTest, AbsentObjectIsNotQueried) {
  Start(NoAzure());
  const std::string text = Run(100);
  EXPECT_EQ(text.find("Azure"), std::string::npos) << text;
  EXPECT_NE(text.find("FROM CA10__CaAwsInstance__c"), std::string::npos);
  EXPECT_LE(calls_, Stated());
  ExpectWorks();
}

TEST_F(DiscoverTest, AbsentFieldAndTagField) {
  Start(Ec2Reshaped());
  const std::string text = Run(100);
  EXPECT_EQ(text.find("CA10__regionName__c region, COUNT(Id) n FROM " +
                      std::string(kEc2)),
            std::string::npos);
  EXPECT_NE(text.find("SELECT caTag_costCenter__c tag_cost_center, COUNT(Id) n "
                      "FROM " +
                      std::string(kEc2)),
            std::string::npos)
      << text;
  EXPECT_LE(calls_, Stated());
  ExpectWorks();
}

TEST_F(DiscoverTest, SmallBudgetSkipsObjects) {
  Start(Default());
  const std::string text = Run(5);
  EXPECT_NE(report_.str().find("skipping"), std::string::npos) << report_.str();
  EXPECT_LE(Stated(), 5u);
  EXPECT_LE(calls_, Stated());
  EXPECT_LE(calls_, 5u);
  ExpectWorks();
}

TEST(DiscoverNames, CloudawareNamespacesOnly) {
  EXPECT_TRUE(IsCloudawareObject("CA10__CaAwsInstance__c"));
  EXPECT_TRUE(IsCloudawareObject("CA10A1__CaAwsEksCluster__c"));
  EXPECT_TRUE(IsCloudawareObject("CA10Z1__CaAzureAksCluster__c"));
  EXPECT_FALSE(IsCloudawareObject("Account"));
  EXPECT_FALSE(IsCloudawareObject("CA10__CaAwsInstance__Share"));
  EXPECT_FALSE(IsCloudawareObject("Other__CaThing__c"));
}

TEST(DiscoverSection, KeepsReferencesAndDropsInlineSecret) {
  const std::string section = CloudawareSection(
      "# top\ncloudaware:\n  url: ${URL}\n  client_secret: hunter2\n\n"
      "queries:\n  - name: x\n");
  EXPECT_NE(section.find("url: ${URL}"), std::string::npos);
  EXPECT_EQ(section.find("hunter2"), std::string::npos);
  EXPECT_NE(section.find("client_secret: ${CLOUDAWARE_CLIENT_SECRET}"),
            std::string::npos);
  EXPECT_EQ(section.find("queries"), std::string::npos);
  EXPECT_THROW(CloudawareSection("orgs:\n  - name: a\n"), ConfigError);
}

}  // namespace
}  // namespace cloudaware_exporter
