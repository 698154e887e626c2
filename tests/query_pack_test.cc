// The query packs (deploy/examples/packs) through the shipped config that
// pulls them in, against the in-process simulator: every query runs, the
// gauges agree with counts made by hand from the inventory, the freshness
// gauges show the stalled account, and every name the packs use is one the
// simulator's describe reports, grouped fields groupable, deletion markers
// where the object has one.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "exporter/app/org_pipeline.h"
#include "exporter/base/log.h"
#include "exporter/cmdb/cmdb_client.h"
#include "exporter/cmdb/http_client.h"
#include "exporter/cmdb/token_source.h"
#include "exporter/config/config.h"
#include "exporter/metrics/self_metrics.h"
#include "exporter/pipeline/collector.h"
#include "exporter/pipeline/poller.h"
#include "exposition_util.h"
#include "simulator/inventory.h"
#include "simulator/simulator.h"
#include "util/fake_env.h"

namespace cloudaware_exporter {
namespace {

using cmdb_simulator::Inventory;
using cmdb_simulator::Simulator;
using cmdb_simulator::Table;
using cmdb_simulator::Value;
using test_util::Series;

constexpr double kDaySeconds = 86400;

const cmdb_simulator::GenerateOptions& InventoryOptions() {
  static const auto* options = [] {
    auto* o = new cmdb_simulator::GenerateOptions;
    o->records = 10000;  // 25 AWS accounts, the last one stalled
    o->seed = 7;
    return o;
  }();
  return *options;
}

std::shared_ptr<const Inventory> TestInventory() {
  static auto inv = std::make_shared<const Inventory>(
      Inventory::Generate(InventoryOptions()));
  return inv;
}

std::string Text(const Value& v) {
  return v.is_null() ? "" : std::string(v.text);
}

bool Live(const Table& table, size_t row, const std::string& gone_field) {
  return table.column(gone_field).Get(row).is_null();
}

// The live records of an object.
double LiveCount(const std::string& object, const std::string& gone_field) {
  const Table& t = *TestInventory()->FindTable(object);
  double n = 0;
  for (size_t r = 0; r < t.rows(); ++r) n += Live(t, r, gone_field);
  return n;
}

double Sum(const std::map<std::string, double>& series) {
  double sum = 0;
  for (const auto& [labels, value] : series) sum += value;
  return sum;
}

class QueryPackTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ConfigureLogging(LogLevel::kInfo, LogFormat::kLogfmt, &log_);
    cmdb_simulator::SimulatorOptions options;
    options.inventory = TestInventory();
    options.client_id = "pack-client";
    options.client_secret = "pack-secret-value";
    sim_ = std::make_unique<Simulator>(options);
    sim_->Start();
    dir_ = std::filesystem::temp_directory_path() /
           ("query-pack-test-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    std::ofstream(dir_ / "secret") << "pack-secret-value\n";
    env_ = {{"CLOUDAWARE_URL", sim_->base_url()},
            {"CLOUDAWARE_CLIENT_ID", "pack-client"},
            {"CLOUDAWARE_CLIENT_SECRET_FILE", (dir_ / "secret").string()}};
  }

  void TearDown() override {
    if (org_) org_->Stop();
    org_.reset();
    sim_->Stop();
    std::filesystem::remove_all(dir_);
    ConfigureLogging(LogLevel::kInfo, LogFormat::kLogfmt);
  }

  Config Load(const std::string& path) {
    auto env = env_;
    return LoadConfig(
        path, [env](const std::string& name) -> std::optional<std::string> {
          auto it = env.find(name);
          if (it == env.end()) return std::nullopt;
          return it->second;
        });
  }

  // Loads a config (the shipped one by default) and runs every query once.
  std::string PollPacks(const std::string& config = EXAMPLE_CONFIG) {
    config_ = Load(config);
    OrgOptions options;
    options.env = test_util::FakeEnv();
    org_ = std::make_unique<OrgPipeline>(config_, 0, metrics_, collector_,
                                         nullptr, options);
    Poller& poller = org_->poller;
    EXPECT_TRUE(poller.PollOnce()) << log_.str();
    for (const Poller::QueryStatus& s : poller.Status()) {
      EXPECT_TRUE(s.success) << s.name << ": " << s.last_error;
      EXPECT_GT(s.series, 0u) << s.name;
    }
    std::string text;
    for (const auto& b : collector_.snapshot()->blocks) text += *b;
    return text;
  }

  std::ostringstream log_;
  std::unique_ptr<Simulator> sim_;
  std::filesystem::path dir_;
  std::map<std::string, std::string> env_;
  Config config_;
  SelfMetrics metrics_{"test", "test"};
  Collector collector_;
  std::unique_ptr<OrgPipeline> org_;
};

// The objects that carry no disappearance time: their counts take every
// record.
bool IsAccountObject(const std::string& object) {
  return object == "CA10__CaAwsAccount__c" ||
         object == "CA10__CaAzureAccount__c" ||
         object == "CA10__CaGoogleProject__c";
}

TEST_F(QueryPackTest, LoadsEveryPackWithItsIntervals) {
  Config c = Load(EXAMPLE_CONFIG);
  ASSERT_EQ(c.orgs.size(), 1u);
  std::set<std::string> names;
  double calls_per_day = 0;
  for (const QueryConfig& q : c.orgs[0].queries) {
    names.insert(q.name);
    calls_per_day += 86400000.0 / static_cast<double>(q.interval.count());
    bool all_records = q.soql.find(" WHERE ") == std::string::npos ||
                       q.soql.find(" != null") != std::string::npos;
    for (const MetricConfig& m : q.metrics) {
      EXPECT_EQ(m.help.find("deleted ones excluded") == std::string::npos,
                all_records)
          << m.name;
      bool freshness = m.name.find("newest_modification") != std::string::npos;
      EXPECT_EQ(freshness, m.name.ends_with("_timestamp_seconds")) << m.name;
    }
  }
  for (const char* q :
       {"aws_ec2_by_state", "aws_ec2_by_region", "aws_newest_modification",
        "azure_vms_by_location_and_state", "azure_vms_by_subscription",
        "azure_newest_modification", "gcp_gce_by_region_and_status",
        "gcp_gce_by_project", "gcp_gke_clusters", "gcp_newest_modification"}) {
    EXPECT_TRUE(names.count(q)) << q;
  }
  EXPECT_EQ(c.orgs[0].queries.size(), 24u);
  // The budget the README and the config's header state.
  EXPECT_EQ(calls_per_day, 1776);
}

TEST_F(QueryPackTest, CountsAgreeWithTheInventoryAndLeaveOutDeleted) {
  std::string text = PollPacks();
  const std::string gone = "CA10__disappearanceTime__c";

  // AWS: by hand from the inventory the simulator serves.
  const Table& ec2 = *TestInventory()->FindTable("CA10__CaAwsInstance__c");
  const Table& accounts = *TestInventory()->FindTable("CA10__CaAwsAccount__c");
  std::map<std::string, double> by_account;
  double live = 0;
  for (size_t r = 0; r < ec2.rows(); ++r) {
    if (!Live(ec2, r, gone)) continue;
    ++live;
    Value ref = ec2.column("CA10__account__c").Get(r);
    auto row = ref.is_null() ? std::nullopt : accounts.FindById(ref.text);
    std::string acct =
        row ? Text(accounts.column("CA10__accountId__c").Get(*row)) : "";
    by_account["{account=\"" + acct + "\",cloud=\"aws\"}"]++;
  }
  ASSERT_LT(live, static_cast<double>(ec2.rows())) << "deleted ones to skip";
  EXPECT_EQ(Series(text, "cloudaware_aws_ec2_instances_by_account"),
            by_account);
  EXPECT_EQ(Sum(Series(text, "cloudaware_aws_ec2_instances")), live);
  EXPECT_EQ(Sum(Series(text, "cloudaware_aws_ec2_instances_by_type")), live);
  EXPECT_EQ(Sum(Series(text, "cloudaware_aws_ec2_instances_by_region")), live);
  EXPECT_EQ(Sum(Series(text, "cloudaware_aws_ebs_volumes_by_account")),
            LiveCount("CA10__CaAwsVolume__c", gone));
  EXPECT_EQ(Sum(Series(text, "cloudaware_aws_ebs_volumes")),
            LiveCount("CA10__CaAwsVolume__c", gone));
  EXPECT_EQ(Sum(Series(text, "cloudaware_aws_s3_buckets_by_account")),
            LiveCount("CA10__CaAwsBucket__c", gone));
  EXPECT_EQ(Sum(Series(text, "cloudaware_aws_s3_buckets")),
            LiveCount("CA10__CaAwsBucket__c", gone));
  EXPECT_EQ(Sum(Series(text, "cloudaware_aws_rds_instances_by_account")),
            LiveCount("CA10__CaAwsDbInstance__c", gone));
  EXPECT_EQ(Sum(Series(text, "cloudaware_aws_rds_instances")),
            LiveCount("CA10__CaAwsDbInstance__c", gone));
  EXPECT_EQ(
      Series(text, "cloudaware_aws_eks_clusters"),
      (std::map<std::string, double>{
          {"{cloud=\"aws\"}", LiveCount("CA10A1__CaAwsEksCluster__c",
                                        "CA10A1__disappearanceTime__c")}}));
  EXPECT_EQ(Series(text, "cloudaware_aws_accounts"),
            (std::map<std::string, double>{
                {"{cloud=\"aws\"}", static_cast<double>(accounts.rows())}}));
  // Volume state is the status field: a live volume is never "deleted".
  std::map<std::string, double> volumes =
      Series(text, "cloudaware_aws_ebs_volumes");
  for (const auto& [labels, n] : volumes) {
    EXPECT_EQ(labels.find("state=\"deleted\""), std::string::npos) << labels;
  }
  EXPECT_TRUE(
      volumes.count("{cloud=\"aws\",state=\"in-use\",volume_type=\"gp3\"}"));

  // Azure: by location and power state, and by subscription, both adding
  // up to the live VMs.
  const double vms = LiveCount("CA10__CaAzureVirtualMachine__c", gone);
  ASSERT_LT(
      vms, static_cast<double>(TestInventory()
                                   ->FindTable("CA10__CaAzureVirtualMachine__c")
                                   ->rows()));
  EXPECT_EQ(Sum(Series(text, "cloudaware_azure_virtual_machines")), vms);
  EXPECT_EQ(Sum(Series(text, "cloudaware_azure_virtual_machines_by_account")),
            vms);
  EXPECT_TRUE(Series(text, "cloudaware_azure_virtual_machines")
                  .count("{cloud=\"azure\",region=\"eastus\",state=\"VM "
                         "running\"}"));
  EXPECT_EQ(
      Series(text, "cloudaware_azure_aks_clusters"),
      (std::map<std::string, double>{
          {"{cloud=\"azure\"}", LiveCount("CA10Z1__CaAzureAksCluster__c",
                                          "CA10Z1__disappearanceTime__c")}}));
  EXPECT_EQ(Sum(Series(text, "cloudaware_azure_subscriptions")),
            static_cast<double>(
                TestInventory()->FindTable("CA10__CaAzureAccount__c")->rows()));

  // GCP.
  const double gce = LiveCount("CA10__CaGoogleGceInstance__c", gone);
  EXPECT_EQ(Sum(Series(text, "cloudaware_gcp_gce_instances_by_account")), gce);
  EXPECT_EQ(Sum(Series(text, "cloudaware_gcp_gce_instances")), gce);
  EXPECT_EQ(Sum(Series(text, "cloudaware_gcp_gke_clusters")),
            LiveCount("CA10G1__CaGoogleGkeCluster__c",
                      "CA10G1__disappearanceTime__c"));
  EXPECT_EQ(
      Sum(Series(text, "cloudaware_gcp_projects")),
      static_cast<double>(
          TestInventory()->FindTable("CA10__CaGoogleProject__c")->rows()));

  // What the packs promise Prometheus passes its linter.
  const char* promtool = std::getenv("PROMTOOL");
  const std::string command =
      std::string(promtool != nullptr ? promtool : "/usr/bin/promtool") +
      " check metrics < '" + (dir_ / "packs.prom").string() + "' 2>&1";
  std::ofstream(dir_ / "packs.prom") << text;
  FILE* pipe = popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string output;
  char buffer[512];
  while (size_t n = fread(buffer, 1, sizeof buffer, pipe)) {
    output.append(buffer, n);
  }
  EXPECT_EQ(pclose(pipe), 0) << command << ": " << output;
  EXPECT_EQ(output, "");
}

TEST_F(QueryPackTest, FreshnessShowsTheStalledAccount) {
  std::string text = PollPacks();
  const Table& ec2 = *TestInventory()->FindTable("CA10__CaAwsInstance__c");
  const Table& accounts = *TestInventory()->FindTable("CA10__CaAwsAccount__c");
  std::map<std::string, double> newest;  // account ID -> Unix seconds
  for (size_t r = 0; r < ec2.rows(); ++r) {
    if (!Live(ec2, r, "CA10__disappearanceTime__c")) continue;
    auto row = accounts.FindById(ec2.column("CA10__account__c").Get(r).text);
    ASSERT_TRUE(row);
    std::string acct = Text(accounts.column("CA10__accountId__c").Get(*row));
    double s = ec2.column("LastModifiedDate").Get(r).number / 1000;
    if (!newest.count(acct) || s > newest[acct]) newest[acct] = s;
  }
  std::map<std::string, double> gauges =
      Series(text, "cloudaware_aws_newest_modification_timestamp_seconds");
  ASSERT_EQ(gauges.size(), newest.size());
  const double now = InventoryOptions().now_ms / 1000;
  const std::string stalled =
      Text(accounts.column("CA10__accountId__c").Get(accounts.rows() - 1));
  for (const auto& [acct, seconds] : newest) {
    std::string labels = "{account=\"" + acct + "\",cloud=\"aws\"}";
    ASSERT_TRUE(gauges.count(labels)) << labels;
    EXPECT_DOUBLE_EQ(gauges[labels], seconds) << labels;
    if (acct == stalled) {
      EXPECT_LE(gauges[labels], now - 3 * kDaySeconds) << labels;
    } else {
      EXPECT_GE(gauges[labels], now - kDaySeconds) << labels;
    }
  }
  ASSERT_TRUE(newest.count(stalled));

  // No stalled collector on the other clouds: all within the last day.
  for (const char* metric :
       {"cloudaware_azure_newest_modification_timestamp_seconds",
        "cloudaware_gcp_newest_modification_timestamp_seconds"}) {
    std::map<std::string, double> series = Series(text, metric);
    ASSERT_FALSE(series.empty()) << metric;
    for (const auto& [labels, seconds] : series) {
      EXPECT_GE(seconds, now - kDaySeconds) << metric << labels;
      EXPECT_LE(seconds, now) << metric << labels;
    }
  }
}

// The field names of one SOQL text: words with "__" in them and the
// standard fields the packs use; relationship paths stay whole.
std::vector<std::string> FieldNames(const std::string& soql) {
  std::vector<std::string> names;
  std::string word;
  for (size_t i = 0; i <= soql.size(); ++i) {
    char c = i < soql.size() ? soql[i] : ' ';
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.') {
      word += c;
      continue;
    }
    if (word.find("__") != std::string::npos || word == "Id" ||
        word == "LastModifiedDate") {
      names.push_back(word);
    }
    word.clear();
  }
  return names;
}

std::string Between(const std::string& text, const std::string& from,
                    const std::string& to) {
  size_t start = text.find(from);
  if (start == std::string::npos) return "";
  start += from.size();
  return text.substr(start, text.find(to, start) - start);
}

// The describe entry of field `path` on `object` (following X__r.Y), or null.
const nlohmann::ordered_json* DescribedField(
    std::map<std::string, nlohmann::ordered_json>& describes,
    const std::string& object, const std::string& path) {
  auto it = describes.find(object);
  if (it == describes.end()) return nullptr;
  size_t dot = path.find('.');
  for (const auto& field : it->second["fields"]) {
    if (dot == std::string::npos) {
      if (field["name"] == path) return &field;
    } else if (field["relationshipName"] == path.substr(0, dot)) {
      return DescribedField(describes,
                            field["referenceTo"][0].get<std::string>(),
                            path.substr(dot + 1));
    }
  }
  return nullptr;
}

// What `--config.check.online` will ask of a real org, asked of the
// simulator's describe: objects and fields exist, grouped fields are
// groupable, and each query filters on the deletion marker of its object's
// package.
// The opt-in ownership file: one info series of value 1 per live EC2
// instance, with the labels written here from the inventory, tags included.
TEST_F(QueryPackTest, OwnershipInfoHasOneSeriesPerLiveInstance) {
  std::filesystem::path examples =
      std::filesystem::path(EXAMPLE_CONFIG).parent_path();
  std::ifstream in(EXAMPLE_CONFIG);
  std::string text((std::istreambuf_iterator<char>(in)), {});
  const std::string files = "query_files: [packs/*.yml]";
  ASSERT_NE(text.find(files), std::string::npos);
  text.replace(text.find(files), files.size(),
               "query_files: [" + (examples / "packs/*.yml").string() + ", " +
                   (examples / "ownership/*.yml").string() + "]");
  std::ofstream(dir_ / "config.yml") << text;
  std::string exposition = PollPacks((dir_ / "config.yml").string());

  const Table& ec2 = *TestInventory()->FindTable("CA10__CaAwsInstance__c");
  const Table& accounts = *TestInventory()->FindTable("CA10__CaAwsAccount__c");
  std::map<std::string, double> expected;
  std::set<std::string> owners;
  for (size_t r = 0; r < ec2.rows(); ++r) {
    if (!Live(ec2, r, "CA10__disappearanceTime__c")) continue;
    auto cell = [&](const char* field) {
      return Text(ec2.column(field).Get(r));
    };
    std::optional<size_t> account = accounts.FindById(cell("CA10__account__c"));
    ASSERT_TRUE(account);
    owners.insert(cell("caTag_owner__c"));
    expected["{account=\"" +
             Text(accounts.column("CA10__accountId__c").Get(*account)) +
             "\",application=\"" + cell("caTag_application__c") +
             "\",cloud=\"aws\",cmdb_id=\"" + cell("Id") + "\",instance_id=\"" +
             cell("CA10__instanceId__c") + "\",owner=\"" +
             cell("caTag_owner__c") + "\",region=\"" +
             cell("CA10__regionName__c") + "\"}"] = 1;
  }
  EXPECT_GT(expected.size(), 2000u) << "more than one page of records";
  EXPECT_GT(owners.size(), 3u) << "the tags should tell teams apart";
  EXPECT_EQ(Series(exposition, "cloudaware_aws_ec2_instance_info"), expected);

  auto live = [](const char* object) {
    return LiveCount(object, "CA10__disappearanceTime__c");
  };
  EXPECT_EQ(Sum(Series(exposition, "cloudaware_azure_virtual_machine_info")),
            live("CA10__CaAzureVirtualMachine__c"));
  EXPECT_EQ(Sum(Series(exposition, "cloudaware_gcp_gce_instance_info")),
            live("CA10__CaGoogleGceInstance__c"));
}

TEST_F(QueryPackTest, EveryNameIsInTheSimulatorsDescribe) {
  std::map<std::string, nlohmann::ordered_json> describes;
  for (const auto& table : TestInventory()->tables()) {
    describes[table->def().name] =
        cmdb_simulator::DescribeJson(table->def(), "66.0");
  }
  Config c = Load(EXAMPLE_CONFIG);
  std::set<std::string> objects;
  for (const QueryConfig& q : c.orgs[0].queries) {
    std::string object = Between(q.soql, " FROM ", " ");
    ASSERT_TRUE(describes.count(object)) << q.name << ": " << object;
    objects.insert(object);
    std::string prefix = object.substr(0, object.find("__"));
    std::string gone = prefix + "__disappearanceTime__c";
    if (IsAccountObject(object)) {
      EXPECT_EQ(q.soql.find("disappearanceTime"), std::string::npos) << q.name;
    } else {
      // Live resources only, but for the one count of deleted ones.
      std::string filter =
          q.name.ends_with("_deleted") ? " != null" : " = null";
      EXPECT_NE(q.soql.find(" WHERE " + gone + filter), std::string::npos)
          << q.name;
    }
    std::vector<std::string> fields = FieldNames(q.soql);
    ASSERT_FALSE(fields.empty()) << q.name;
    for (const std::string& f : fields) {
      if (f == object) continue;
      EXPECT_TRUE(DescribedField(describes, object, f))
          << q.name << ": " << object << "." << f;
    }
    std::string group_by = Between(q.soql, " GROUP BY ", " LIMIT ");
    for (const std::string& f : FieldNames(group_by)) {
      const nlohmann::ordered_json* field =
          DescribedField(describes, object, f);
      ASSERT_TRUE(field) << q.name << ": " << f;
      EXPECT_TRUE((*field)["groupable"].get<bool>()) << q.name << ": " << f;
      EXPECT_NE((*field)["type"], "datetime") << q.name << ": " << f;
      EXPECT_NE((*field)["type"], "double") << q.name << ": " << f;
    }
  }
  EXPECT_EQ(objects.size(), 12u);
}

}  // namespace
}  // namespace cloudaware_exporter
