#include "exporter/pipeline/collector.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "exporter/pipeline/samples.h"

namespace cloudaware_exporter {
namespace {

// A gauge family with one series per value, labelled group="<i>".
GaugeFamily Family(const std::string& name, const std::string& help,
                   const std::vector<double>& values) {
  GaugeFamily family{name, help, {"group"}, {}};
  for (size_t i = 0; i < values.size(); ++i) {
    family.series.push_back({SeriesKey({std::to_string(i)}), values[i]});
  }
  return family;
}

std::string Text(const Collector::Snapshot& snapshot) {
  std::string text;
  for (const auto& block : snapshot.blocks) text += *block;
  return text;
}

TEST(CollectorTest, RendersTheTextFormat) {
  Collector collector;
  EXPECT_EQ(collector.Publish("q", {Family("m", "Things.", {412, 2.5})}), 2u);
  const auto snapshot = collector.snapshot();
  ASSERT_EQ(snapshot->blocks.size(), 1u);
  EXPECT_EQ(*snapshot->blocks[0],
            "# HELP m Things.\n"
            "# TYPE m gauge\n"
            "m{group=\"0\"} 412\n"
            "m{group=\"1\"} 2.5\n");
  EXPECT_EQ(snapshot->series, 2u);
  EXPECT_EQ(collector.SeriesCount("q"), 2u);
  EXPECT_EQ(collector.SeriesCount("other"), 0u);
}

TEST(CollectorTest, ReplacesSeriesSoThatVanishedGroupsVanish) {
  Collector collector;
  collector.Publish("q", {Family("m", "Things.", {1, 2, 3})});
  EXPECT_EQ(collector.Publish("q", {Family("m", "Things.", {7})}), 1u);
  EXPECT_EQ(Text(*collector.snapshot()),
            "# HELP m Things.\n# TYPE m gauge\nm{group=\"0\"} 7\n");
  EXPECT_EQ(collector.snapshot()->series, 1u);
  EXPECT_EQ(collector.SeriesCount("q"), 1u);
}

TEST(CollectorTest, RendersNothingForFamiliesWithoutSeries) {
  Collector collector;
  EXPECT_EQ(collector.Publish("empty", {Family("m", "Things.", {})}), 0u);
  EXPECT_TRUE(collector.snapshot()->blocks.empty());
  EXPECT_EQ(collector.snapshot()->series, 0u);

  collector.Publish("mixed", {Family("a", "A.", {}), Family("b", "B.", {1})});
  EXPECT_EQ(Text(*collector.snapshot()),
            "# HELP b B.\n# TYPE b gauge\nb{group=\"0\"} 1\n");
}

TEST(CollectorTest, EscapesHelpText) {
  Collector collector;
  collector.Publish("q",
                    {Family("m", "Line one\nback\\slash \"quoted\".", {1})});
  EXPECT_EQ(Text(*collector.snapshot()),
            "# HELP m Line one\\nback\\\\slash \"quoted\".\n"
            "# TYPE m gauge\nm{group=\"0\"} 1\n");
}

TEST(CollectorTest, DropsQueries) {
  Collector collector;
  collector.Publish("a", {Family("a", "A.", {1})});
  collector.Publish("b", {Family("b", "B.", {1, 2})});
  collector.Drop("a");
  collector.Drop("never published");
  EXPECT_EQ(
      Text(*collector.snapshot()),
      "# HELP b B.\n# TYPE b gauge\nb{group=\"0\"} 1\nb{group=\"1\"} 2\n");
  EXPECT_EQ(collector.snapshot()->series, 2u);
  EXPECT_EQ(collector.SeriesCount("a"), 0u);
}

TEST(CollectorTest, OrdersBlocksByQueryListThenUnlistedByName) {
  Collector collector;
  collector.SetQueries({"c", "a", "missing", "c"});
  for (const char* name : {"z", "a", "b", "c"}) {
    collector.Publish(name, {Family(name, "Help.", {1})});
  }
  std::vector<std::string> order;
  for (const auto& block : collector.snapshot()->blocks) {
    order.push_back(block->substr(7, 1));  // the name after "# HELP "
  }
  EXPECT_EQ(order, (std::vector<std::string>{"c", "a", "b", "z"}));
  EXPECT_EQ(collector.snapshot()->series, 4u);
}

TEST(CollectorTest, SetQueriesForgetsQueriesNotNamed) {
  Collector collector;
  collector.Publish("a", {Family("a", "A.", {1})});
  collector.Publish("b", {Family("b", "B.", {1})});
  collector.SetQueries({"b"});
  EXPECT_EQ(Text(*collector.snapshot()),
            "# HELP b B.\n# TYPE b gauge\nb{group=\"0\"} 1\n");
  EXPECT_EQ(collector.SeriesCount("a"), 0u);
  EXPECT_EQ(collector.SeriesCount("b"), 1u);
}

TEST(CollectorTest, SnapshotsStayValidAfterLaterPublishes) {
  Collector collector;
  collector.Publish("q", {Family("m", "Things.", {1})});
  const auto before = collector.snapshot();
  collector.Publish("q", {Family("m", "Things.", {2, 3})});
  collector.Drop("q");
  ASSERT_EQ(before->blocks.size(), 1u);
  EXPECT_EQ(*before->blocks[0],
            "# HELP m Things.\n# TYPE m gauge\nm{group=\"0\"} 1\n");
  EXPECT_EQ(before->series, 1u);
  EXPECT_TRUE(collector.snapshot()->blocks.empty());
}

// A snapshot is consistent when every block is whole and its series count
// matches the sample lines it holds.
bool Consistent(const Collector::Snapshot& snapshot) {
  size_t samples = 0;
  for (const auto& block : snapshot.blocks) {
    if (block->rfind("# HELP ", 0) != 0 || block->back() != '\n') return false;
    std::istringstream lines(*block);
    for (std::string line; std::getline(lines, line);) {
      if (!line.empty() && line[0] != '#') ++samples;
    }
  }
  return samples == snapshot.series;
}

TEST(CollectorTest, ScrapesSeeWholeSnapshotsWhilePublishing) {
  Collector collector;
  collector.SetQueries({"a", "b"});
  constexpr int kRounds = 2000;
  constexpr int kReaders = 3;
  std::atomic<int> readers_started{0};
  std::atomic<int> writers_left{2};
  std::atomic<int> inconsistent{0};
  std::atomic<int> reads{0};

  std::vector<std::thread> threads;
  for (int r = 0; r < kReaders; ++r) {
    threads.emplace_back([&] {
      ++readers_started;
      do {
        if (!Consistent(*collector.snapshot())) ++inconsistent;
        ++reads;
      } while (writers_left > 0);
    });
  }
  for (const char* name : {"a", "b"}) {
    threads.emplace_back([&, name] {
      while (readers_started < kReaders) std::this_thread::yield();
      for (int i = 0; i < kRounds; ++i) {
        if (i % 7 == 6) {
          collector.Drop(name);
        } else {
          collector.Publish(
              name, {Family(name, "Help.", std::vector<double>(i % 4, 1.0))});
        }
      }
      --writers_left;
    });
  }
  for (auto& thread : threads) thread.join();

  EXPECT_EQ(inconsistent, 0);
  EXPECT_GE(reads, kReaders);
  // The last round published (kRounds - 1) % 4 == 3 series for each query.
  EXPECT_EQ(collector.snapshot()->series, 6u);
  EXPECT_EQ(collector.SeriesCount("a"), 3u);
  EXPECT_TRUE(Consistent(*collector.snapshot()));
}

// A gauge family as one org's query reports it: labels org and group.
GaugeFamily OrgFamily(const std::string& name, const std::string& org,
                      const std::vector<double>& values) {
  GaugeFamily family = Family(name, "Things.", values);
  family.label_names.insert(family.label_names.begin(), "org");
  for (GaugeFamily::Series& series : family.series) {
    series.key = SeriesKey({org}) + series.key;
  }
  return family;
}

TEST(CollectorTest, GroupsOneFamilyOfSeveralKeysUnderOneHeaderInKeyOrder) {
  Collector collector;
  collector.SetQueries({"prod/q", "staging/q"});
  // The later key publishes first, so its family comes second only once the
  // first key has published.
  collector.Publish("staging/q", {OrgFamily("m", "staging", {3})});
  EXPECT_EQ(collector.Publish("prod/q", {OrgFamily("m", "prod", {1, 2})}), 2u);
  const std::string grouped =
      "# HELP m Things.\n"
      "# TYPE m gauge\n"
      "m{org=\"prod\",group=\"0\"} 1\n"
      "m{org=\"prod\",group=\"1\"} 2\n"
      "m{org=\"staging\",group=\"0\"} 3\n";
  EXPECT_EQ(Text(*collector.snapshot()), grouped);
  EXPECT_EQ(collector.snapshot()->series, 3u);
  EXPECT_EQ(collector.SeriesCount("prod/q"), 2u);
  EXPECT_EQ(collector.SeriesCount("staging/q"), 1u);

  // The same result again keeps the snapshot, shared family or not.
  const auto before = collector.snapshot();
  collector.Publish("staging/q", {OrgFamily("m", "staging", {3})});
  collector.Publish("prod/q", {OrgFamily("m", "prod", {1, 2})});
  EXPECT_EQ(collector.snapshot(), before);

  // Without the first key, the second one's family carries the header.
  collector.Drop("prod/q");
  EXPECT_EQ(
      Text(*collector.snapshot()),
      "# HELP m Things.\n# TYPE m gauge\nm{org=\"staging\",group=\"0\"} 3\n");
  collector.Publish("staging/q", {OrgFamily("m", "staging", {4})});
  collector.Publish("prod/q", {OrgFamily("m", "prod", {5})});
  EXPECT_EQ(Text(*collector.snapshot()),
            "# HELP m Things.\n# TYPE m gauge\n"
            "m{org=\"prod\",group=\"0\"} 5\n"
            "m{org=\"staging\",group=\"0\"} 4\n");
}

// Run under TSan in CI: two keys publish the same family while scrapes read.
TEST(CollectorTest, ScrapesSeeOneHeaderWhileKeysShareAFamily) {
  Collector collector;
  collector.SetQueries({"prod/q", "staging/q"});
  constexpr int kRounds = 500;
  std::atomic<int> writers_left{2};
  std::atomic<int> bad{0};
  std::thread reader([&] {
    do {
      const auto snapshot = collector.snapshot();
      const std::string text = Text(*snapshot);
      size_t samples = 0;
      std::istringstream lines(text);
      for (std::string line; std::getline(lines, line);) {
        if (!line.empty() && line[0] != '#') ++samples;
      }
      const size_t header = text.find("# HELP m ");
      if (samples != snapshot->series || (samples > 0 && header != 0) ||
          (header != std::string::npos &&
           text.find("# HELP m ", header + 1) != std::string::npos)) {
        ++bad;
      }
    } while (writers_left > 0);
  });
  std::vector<std::thread> writers;
  for (const char* org : {"prod", "staging"}) {
    writers.emplace_back([&, org] {
      const std::string key = std::string(org) + "/q";
      for (int i = 0; i < kRounds; ++i) {
        if (i % 5 == 3) {
          collector.Drop(key);
        } else {
          collector.Publish(
              key, {OrgFamily("m", org, std::vector<double>(i % 3, 1.0))});
        }
      }
      --writers_left;
    });
  }
  for (auto& writer : writers) writer.join();
  reader.join();
  EXPECT_EQ(bad, 0);
  // The last round, 499, published 499 % 3 == 1 series for each key.
  EXPECT_EQ(Text(*collector.snapshot()),
            "# HELP m Things.\n# TYPE m gauge\n"
            "m{org=\"prod\",group=\"0\"} 1\n"
            "m{org=\"staging\",group=\"0\"} 1\n");
}

TEST(CollectorTest, InterleavesFamiliesSharedBetweenSomeKeys) {
  Collector collector;
  collector.SetQueries({"a", "b", "c"});
  collector.Publish("c", {OrgFamily("x", "c", {3})});
  collector.Publish("b", {OrgFamily("y", "b", {2}), OrgFamily("z", "b", {2})});
  collector.Publish("a", {OrgFamily("x", "a", {1}), OrgFamily("y", "a", {1})});
  EXPECT_EQ(Text(*collector.snapshot()),
            "# HELP x Things.\n# TYPE x gauge\n"
            "x{org=\"a\",group=\"0\"} 1\n"
            "x{org=\"c\",group=\"0\"} 3\n"
            "# HELP y Things.\n# TYPE y gauge\n"
            "y{org=\"a\",group=\"0\"} 1\n"
            "y{org=\"b\",group=\"0\"} 2\n"
            "# HELP z Things.\n# TYPE z gauge\n"
            "z{org=\"b\",group=\"0\"} 2\n");
  EXPECT_EQ(collector.snapshot()->series, 5u);

  // A family without series adds no header, and the next key's one has it.
  collector.Publish("a", {OrgFamily("x", "a", {}), OrgFamily("y", "a", {1})});
  EXPECT_EQ(Text(*collector.snapshot()),
            "# HELP y Things.\n# TYPE y gauge\n"
            "y{org=\"a\",group=\"0\"} 1\n"
            "y{org=\"b\",group=\"0\"} 2\n"
            "# HELP z Things.\n# TYPE z gauge\n"
            "z{org=\"b\",group=\"0\"} 2\n"
            "# HELP x Things.\n# TYPE x gauge\n"
            "x{org=\"c\",group=\"0\"} 3\n");
}

TEST(CollectorTest, WritesANameThatOneKeyHasTwiceOnce) {
  Collector collector;
  collector.Publish("q", {OrgFamily("m", "a", {1}), OrgFamily("n", "a", {1}),
                          OrgFamily("m", "b", {2})});
  EXPECT_EQ(Text(*collector.snapshot()),
            "# HELP m Things.\n# TYPE m gauge\n"
            "m{org=\"a\",group=\"0\"} 1\n"
            "m{org=\"b\",group=\"0\"} 2\n"
            "# HELP n Things.\n# TYPE n gauge\n"
            "n{org=\"a\",group=\"0\"} 1\n");
}

// Golden files: whole queries, from the API's JSON to the exposition, checked
// against testdata/golden/<query>.prom. UPDATE_GOLDEN=1 rewrites them.
struct GoldenCase {
  QueryConfig query;
  const char* result;
};

using Labels = std::vector<std::pair<std::string, std::string>>;

MetricConfig Metric(const std::string& name, const std::string& help,
                    const std::string& value, const Labels& labels,
                    const Labels& const_labels = {}) {
  MetricConfig metric;
  metric.name = name;
  metric.help = help;
  metric.value = value;
  metric.labels = labels;
  metric.const_labels = const_labels;
  return metric;
}

QueryConfig Query(const std::string& name, const std::string& soql,
                  const std::vector<MetricConfig>& metrics) {
  QueryConfig query;
  query.name = name;
  query.soql = soql;
  query.metrics = metrics;
  return query;
}

std::vector<GoldenCase> GoldenCases() {
  return {
      {Query("aws_ec2_instances",
             "SELECT CA10__stateName__c state, COUNT(Id) n FROM "
             "CA10__CaAwsInstance__c WHERE CA10__disappearanceTime__c = null "
             "GROUP BY CA10__stateName__c LIMIT 2000",
             {Metric("cloudaware_aws_ec2_instances",
                     "EC2 instances in the CMDB (deleted ones excluded), by "
                     "state. Refreshed every 10m from Cloudaware, not at "
                     "scrape time.",
                     "n", {{"state", "state"}}, {{"cloud", "aws"}})}),
       R"({"totalSize": 4, "done": true, "records": [
           {"attributes": {"type": "AggregateResult"}, "state": "running", "n": 412},
           {"attributes": {"type": "AggregateResult"}, "state": "stopped", "n": 57},
           {"attributes": {"type": "AggregateResult"}, "state": "terminated", "n": 0},
           {"attributes": {"type": "AggregateResult"}, "state": null, "n": 2}]})"},
      {Query("aws_ec2_instance_details",
             "SELECT Name, CA10__account__r.CA10__accountId__c, "
             "caTag_owner__c, CA10__breezeLastUpdate__c, "
             "CA10__averageCpuOneWeek__c FROM CA10__CaAwsInstance__c WHERE "
             "CA10__disappearanceTime__c = null",
             {Metric("cloudaware_aws_ec2_instance_breeze_last_update_"
                     "timestamp_seconds",
                     "When Cloudaware's Breeze agent last reported from the "
                     "instance. Refreshed every 5m, not at scrape time.",
                     "CA10__breezeLastUpdate__c",
                     {{"instance", "Name"},
                      {"account", "CA10__account__r.CA10__accountId__c"},
                      {"owner", "caTag_owner__c"}}),
              Metric("cloudaware_aws_ec2_instance_cpu_week_average_percent",
                     "Average CPU use of the instance over the last week, as "
                     "Cloudaware computed it. Refreshed every 5m.",
                     "CA10__averageCpuOneWeek__c", {{"instance", "Name"}})}),
       R"({"totalSize": 3, "done": true, "records": [
           {"attributes": {"type": "CA10__CaAwsInstance__c",
                           "url": "/services/data/v66.0/sobjects/CA10__CaAwsInstance__c/a0BSIM000000001AAA"},
            "Name": "i-0123456789abcdef0",
            "CA10__account__r": {"attributes": {"type": "CA10__CaAwsAccount__c",
                                                "url": "/services/data/v66.0/sobjects/CA10__CaAwsAccount__c/a01SIM000000001AAA"},
                                 "CA10__accountId__c": "111122223333"},
            "caTag_owner__c": "platform \"blue\" team\\eu",
            "CA10__breezeLastUpdate__c": "2026-01-01T00:00:00.000+0000",
            "CA10__averageCpuOneWeek__c": 12.5},
           {"attributes": {"type": "CA10__CaAwsInstance__c",
                           "url": "/services/data/v66.0/sobjects/CA10__CaAwsInstance__c/a0BSIM000000002AAA"},
            "Name": "i-0fedcba9876543210",
            "CA10__account__r": null,
            "caTag_owner__c": null,
            "CA10__breezeLastUpdate__c": null,
            "CA10__averageCpuOneWeek__c": 0.75},
           {"attributes": {"type": "CA10__CaAwsInstance__c",
                           "url": "/services/data/v66.0/sobjects/CA10__CaAwsInstance__c/a0BSIM000000003AAA"},
            "Name": "i-00000000000000003",
            "CA10__account__r": {"attributes": {"type": "CA10__CaAwsAccount__c",
                                                "url": "/services/data/v66.0/sobjects/CA10__CaAwsAccount__c/a01SIM000000002AAA"},
                                 "CA10__accountId__c": "444455556666"},
            "caTag_owner__c": "data",
            "CA10__breezeLastUpdate__c": "2026-06-15T08:45:30.125+0000",
            "CA10__averageCpuOneWeek__c": 97}]})"},
      {Query("azure_aks_clusters",
             "SELECT COUNT() FROM CA10Z1__CaAzureAksCluster__c WHERE "
             "CA10Z1__disappearanceTime__c = null",
             {Metric("cloudaware_azure_aks_clusters",
                     "AKS clusters in the CMDB (deleted ones excluded). "
                     "Refreshed every 5m, not at scrape time.",
                     "", {}, {{"cloud", "azure"}})}),
       R"({"totalSize": 7, "done": true, "records": []})"},
  };
}

std::filesystem::path GoldenPath(const std::string& query) {
  return std::filesystem::path(TESTDATA_DIR) / "golden" / (query + ".prom");
}

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

QueryResult Parse(const char* body) {
  const auto parsed = nlohmann::json::parse(body);
  QueryResult result;
  result.total_size = parsed.at("totalSize").get<int64_t>();
  for (const auto& record : parsed.at("records")) {
    result.records.push_back(record);
  }
  return result;
}

TEST(CollectorTest, RendersQueriesLikeTheGoldenFiles) {
  const char* update = std::getenv("UPDATE_GOLDEN");
  const bool updating = update != nullptr && std::string(update) == "1";
  for (const GoldenCase& c : GoldenCases()) {
    SCOPED_TRACE(c.query.name);
    Collector collector;
    collector.Publish(c.query.name, ToFamilies(c.query, Parse(c.result)));
    const std::string got = Text(*collector.snapshot());
    const auto path = GoldenPath(c.query.name);
    if (updating) {
      std::ofstream out(path, std::ios::binary);
      out << got;
      EXPECT_TRUE(out.good()) << "cannot write " << path;
      continue;
    }
    ASSERT_TRUE(std::filesystem::exists(path))
        << path << " is missing; run the tests with UPDATE_GOLDEN=1";
    EXPECT_EQ(got, ReadFile(path))
        << "compared with " << path << "; UPDATE_GOLDEN=1 rewrites it";
  }
}

// Returns promtool's exit status and puts its output in *output.
int RunPromtool(const std::string& promtool, const std::filesystem::path& file,
                std::string* output) {
  const std::string command =
      promtool + " check metrics < '" + file.string() + "' 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return -1;
  char buffer[512];
  while (size_t n = fread(buffer, 1, sizeof buffer, pipe)) {
    output->append(buffer, n);
  }
  const int status = pclose(pipe);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string Promtool() {
  const char* from_env = std::getenv("PROMTOOL");
  return from_env != nullptr ? from_env : "/usr/bin/promtool";
}

// Every golden file, including those of other tests: whatever we promise
// Prometheus will parse must pass its linter.
TEST(CollectorTest, GoldenFilesPassPromtool) {
  const std::string promtool = Promtool();
  ASSERT_EQ(access(promtool.c_str(), X_OK), 0)
      << promtool
      << " is not installed (apt-get install prometheus, or set PROMTOOL); it "
         "lints the golden files";
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(
           std::filesystem::path(TESTDATA_DIR) / "golden")) {
    if (entry.path().extension() == ".prom") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  for (const GoldenCase& c : GoldenCases()) {
    EXPECT_NE(std::find(files.begin(), files.end(), GoldenPath(c.query.name)),
              files.end())
        << GoldenPath(c.query.name) << " is missing";
  }
  for (const auto& path : files) {
    SCOPED_TRACE(path.string());
    std::string output;
    EXPECT_EQ(RunPromtool(promtool, path, &output), 0) << output;
    EXPECT_EQ(output, "");
  }
}

TEST(CollectorTest, PromtoolCatchesBadExposition) {
  // Proves the check above can fail: a gauge named like a counter is linted.
  const std::string promtool = Promtool();
  ASSERT_EQ(access(promtool.c_str(), X_OK), 0) << promtool << " is missing";
  const auto path = std::filesystem::temp_directory_path() /
                    ("collector_test_" + std::to_string(getpid()) + ".prom");
  std::ofstream(path) << "# HELP x_total X.\n# TYPE x_total gauge\nx_total 1\n";
  std::string output;
  EXPECT_NE(RunPromtool(promtool, path, &output), 0) << output;
  std::filesystem::remove(path);
}

TEST(CollectorTest, PromtoolAcceptsSeveralKeysWithTheSameQueries) {
  const std::string promtool = Promtool();
  ASSERT_EQ(access(promtool.c_str(), X_OK), 0) << promtool << " is missing";
  Collector collector;
  collector.SetQueries(
      {"prod/details", "prod/count", "staging/details", "staging/count"});
  for (const char* org : {"staging", "prod"}) {
    const std::string prefix = std::string(org) + "/";
    collector.Publish(prefix + "count",
                      {OrgFamily("cloudaware_things", org, {1, 2})});
    collector.Publish(prefix + "details",
                      {OrgFamily("cloudaware_thing_age_seconds", org, {7}),
                       OrgFamily("cloudaware_thing_size_bytes", org, {8, 9})});
  }
  const std::string text = Text(*collector.snapshot());
  for (const char* name : {"cloudaware_things", "cloudaware_thing_age_seconds",
                           "cloudaware_thing_size_bytes"}) {
    const std::string help = std::string("# HELP ") + name + " ";
    const size_t first = text.find(help);
    ASSERT_NE(first, std::string::npos) << text;
    EXPECT_EQ(text.find(help, first + 1), std::string::npos) << text;
  }
  const auto path =
      std::filesystem::temp_directory_path() /
      ("collector_test_keys_" + std::to_string(getpid()) + ".prom");
  std::ofstream(path) << text;
  std::string output;
  EXPECT_EQ(RunPromtool(promtool, path, &output), 0) << output << text;
  EXPECT_EQ(output, "");
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace cloudaware_exporter
