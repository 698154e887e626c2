#include "exporter/metrics/self_metrics.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "exporter/base/metric_names.h"
#include "exporter/config/config.h"
#include "exporter/metrics/process_metrics.h"

namespace cloudaware_exporter {
namespace {

// The value of the sample written exactly as `series` ("name{a="b"}"), if
// the exposition has it.
std::optional<double> Sample(const std::string& text,
                             const std::string& series) {
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    const size_t space = line.rfind(' ');
    if (line.starts_with('#') || space == std::string::npos) continue;
    if (line.substr(0, space) == series)
      return std::stod(line.substr(space + 1));
  }
  return std::nullopt;
}

bool HasLine(const std::string& text, const std::string& line) {
  return ("\n" + text).find("\n" + line + "\n") != std::string::npos;
}

// Every self metric the README lists, after updates that give each one a child.
std::unique_ptr<SelfMetrics> UpdatedMetrics() {
  auto owner = std::make_unique<SelfMetrics>("1.2.3", "abcdef123456");
  SelfMetrics& metrics = *owner;
  metrics.SetUp(true);
  metrics.CountTokenRequest("success", 1700000000.5);
  metrics.CountTokenRequest("invalid_client", 1700000001);
  metrics.SetTokenValid(true);
  metrics.ObserveApiRequest("query", "200", 0.2);
  metrics.ObserveApiRequest("token", "network", 3);
  metrics.SetDailyRequests(120, 15000);
  metrics.SetQuerySuccess("aws_ec2", true);
  metrics.SetQueryDuration("aws_ec2", 1.5);
  metrics.SetQueryLastSuccess("aws_ec2", 1700000002);
  metrics.CountQueryError("aws_ec2", "INVALID_FIELD");
  metrics.SetQuerySeries("aws_ec2", 7);
  return owner;
}

TEST(SelfMetricsTest, InitialState) {
  const SelfMetrics metrics("1.2.3", "abcdef123456");
  const std::string text = metrics.Render();
  EXPECT_EQ(Sample(text, "cloudaware_up"), 0);
  EXPECT_EQ(Sample(text, "cloudaware_token_valid"), 0);
  EXPECT_EQ(Sample(text, "cloudaware_token_last_success_timestamp_seconds"), 0);
  EXPECT_EQ(Sample(text, "cloudaware_api_daily_requests_limit"), 0);
  EXPECT_EQ(Sample(text, "cloudaware_api_daily_requests_used"), 0);
  EXPECT_EQ(Sample(text, "cloudaware_api_composite_fallback"), 0);
  EXPECT_EQ(Sample(text, "cloudaware_api_budget_stretch_factor"), 1);
  EXPECT_EQ(
      Sample(
          text,
          R"(cloudaware_exporter_build_info{revision="abcdef123456",version="1.2.3"})"),
      1);
  EXPECT_EQ(text.find("cloudaware_query_"), std::string::npos) << text;
}

TEST(SelfMetricsTest, ExposesSpecNamesTypesAndLabels) {
  const std::string text = UpdatedMetrics()->Render();
  const std::vector<std::pair<std::string, std::string>> types = {
      {"cloudaware_up", "gauge"},
      {"cloudaware_token_requests_total", "counter"},
      {"cloudaware_token_last_success_timestamp_seconds", "gauge"},
      {"cloudaware_token_valid", "gauge"},
      {"cloudaware_api_requests_total", "counter"},
      {"cloudaware_api_request_duration_seconds", "histogram"},
      {"cloudaware_api_daily_requests_limit", "gauge"},
      {"cloudaware_api_daily_requests_used", "gauge"},
      {"cloudaware_query_success", "gauge"},
      {"cloudaware_query_duration_seconds", "gauge"},
      {"cloudaware_query_last_success_timestamp_seconds", "gauge"},
      {"cloudaware_query_errors_total", "counter"},
      {"cloudaware_query_series", "gauge"},
      {"cloudaware_exporter_build_info", "gauge"},
      {"process_cpu_seconds_total", "counter"},
      {"process_resident_memory_bytes", "gauge"},
      {"process_virtual_memory_bytes", "gauge"},
      {"process_open_fds", "gauge"},
      {"process_max_fds", "gauge"},
      {"process_start_time_seconds", "gauge"},
  };
  for (const auto& [name, type] : types) {
    EXPECT_TRUE(HasLine(text, "# TYPE " + name + " " + type)) << name;
    EXPECT_NE(text.find("# HELP " + name + " "), std::string::npos) << name;
  }

  EXPECT_EQ(Sample(text, "cloudaware_up"), 1);
  EXPECT_EQ(
      Sample(text, R"(cloudaware_token_requests_total{result="success"})"), 1);
  EXPECT_EQ(
      Sample(text,
             R"(cloudaware_token_requests_total{result="invalid_client"})"),
      1);
  // Only a successful request moves the timestamp.
  EXPECT_EQ(Sample(text, "cloudaware_token_last_success_timestamp_seconds"),
            1700000000.5);
  EXPECT_EQ(Sample(text, "cloudaware_token_valid"), 1);
  EXPECT_EQ(
      Sample(text,
             R"(cloudaware_api_requests_total{code="200",endpoint="query"})"),
      1);
  EXPECT_EQ(
      Sample(
          text,
          R"(cloudaware_api_requests_total{code="network",endpoint="token"})"),
      1);
  EXPECT_EQ(
      Sample(
          text,
          R"(cloudaware_api_request_duration_seconds_bucket{endpoint="query",le="0.1"})"),
      0);
  EXPECT_EQ(
      Sample(
          text,
          R"(cloudaware_api_request_duration_seconds_bucket{endpoint="query",le="0.25"})"),
      1);
  EXPECT_EQ(
      Sample(
          text,
          R"(cloudaware_api_request_duration_seconds_bucket{endpoint="token",le="120"})"),
      1);
  EXPECT_EQ(
      Sample(
          text,
          R"(cloudaware_api_request_duration_seconds_count{endpoint="token"})"),
      1);
  EXPECT_EQ(Sample(text, "cloudaware_api_daily_requests_limit"), 15000);
  EXPECT_EQ(Sample(text, "cloudaware_api_daily_requests_used"), 120);
  EXPECT_EQ(Sample(text, R"(cloudaware_query_success{query="aws_ec2"})"), 1);
  EXPECT_EQ(
      Sample(text, R"(cloudaware_query_duration_seconds{query="aws_ec2"})"),
      1.5);
  EXPECT_EQ(
      Sample(
          text,
          R"(cloudaware_query_last_success_timestamp_seconds{query="aws_ec2"})"),
      1700000002);
  EXPECT_EQ(
      Sample(
          text,
          R"(cloudaware_query_errors_total{error="INVALID_FIELD",query="aws_ec2"})"),
      1);
  EXPECT_EQ(Sample(text, R"(cloudaware_query_series{query="aws_ec2"})"), 7);
  EXPECT_EQ(
      Sample(
          text,
          R"(cloudaware_exporter_build_info{revision="abcdef123456",version="1.2.3"})"),
      1);
}

// A query metric named like one of the exporter's own series would put that
// family on /metrics twice, which Prometheus refuses: the config must reserve
// every name the exporter exports of its own.
TEST(SelfMetricsTest, ConfigReservesEveryNameTheExporterExports) {
  std::unique_ptr<SelfMetrics> metrics = UpdatedMetrics();
  metrics->SetCompositeFallback(true);
  metrics->SetIntervalStretch(2);
  metrics->SetQueryInterval("aws_ec2", 300);
  metrics->CountDroppedSeries("aws_ec2", 3);
  std::set<std::string> names;
  std::istringstream in(metrics->Render());
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line.starts_with('#')) continue;
    names.insert(line.substr(0, line.find_first_of("{ ")));
  }
  ASSERT_GT(names.size(), 25u);
  for (const MetricName& metric : self_metric::kAll) {
    EXPECT_TRUE(names.count(std::string(metric.name)) ||
                metric.type == MetricType::kHistogram)
        << metric.name << " is listed but not exported";
  }
  const auto env = [](const std::string&) -> std::optional<std::string> {
    return std::nullopt;
  };
  for (const std::string& name : names) {
    const std::string yaml = R"(cloudaware:
  url: https://acme.my.salesforce.com
  client_id: exporter
  client_secret: hunter2
queries:
  - name: q
    soql: SELECT COUNT() FROM CA10__CaAwsInstance__c
    metrics:
      - name: )" + name + "\n";
    try {
      ParseConfig(yaml, "t.yml", env);
      ADD_FAILURE() << name << " is not reserved";
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find("is reserved"), std::string::npos)
          << name << ": " << e.what();
    }
  }
}

TEST(SelfMetricsTest, PromtoolAcceptsRender) {
  if (std::system("command -v promtool >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "promtool is not installed; install the Debian package "
                    "'prometheus' to run this check";
  }
  const std::string dir = ::testing::TempDir();
  const std::string input =
      dir + "self_metrics_" + std::to_string(getpid()) + ".prom";
  const std::string output = input + ".out";
  std::ofstream(input) << UpdatedMetrics()->Render();
  const int status = std::system(
      ("promtool check metrics < " + input + " > " + output + " 2>&1").c_str());
  std::ifstream result(output);
  const std::string report(std::istreambuf_iterator<char>(result), {});
  std::remove(input.c_str());
  std::remove(output.c_str());
  EXPECT_EQ(status, 0) << report;
  EXPECT_EQ(report, "") << report;
}

TEST(SelfMetricsTest, RemoveQueryDropsOnlyThatQuery) {
  std::unique_ptr<SelfMetrics> owner = UpdatedMetrics();
  SelfMetrics& metrics = *owner;
  for (const char* query : {"gone", "gone_too_similar"}) {
    metrics.SetQuerySuccess(query, false);
    metrics.SetQueryDuration(query, 2);
    metrics.SetQueryLastSuccess(query, 1700000003);
    metrics.CountQueryError(query, "network");
    metrics.CountQueryError(query, "timeout");
    metrics.SetQuerySeries(query, 3);
  }
  ASSERT_NE(metrics.Render().find(R"(query="gone")"), std::string::npos);

  metrics.RemoveQuery("gone");
  const std::string text = metrics.Render();
  EXPECT_EQ(text.find(R"(query="gone")"), std::string::npos) << text;
  EXPECT_EQ(
      Sample(
          text,
          R"(cloudaware_query_errors_total{error="timeout",query="gone_too_similar"})"),
      1);
  EXPECT_EQ(
      Sample(text, R"(cloudaware_query_series{query="gone_too_similar"})"), 3);
  EXPECT_EQ(Sample(text, R"(cloudaware_query_series{query="aws_ec2"})"), 7);
  EXPECT_EQ(
      Sample(
          text,
          R"(cloudaware_query_errors_total{error="INVALID_FIELD",query="aws_ec2"})"),
      1);

  // A query that comes back starts from zero.
  metrics.CountQueryError("gone", "network");
  EXPECT_EQ(
      Sample(metrics.Render(),
             R"(cloudaware_query_errors_total{error="network",query="gone"})"),
      1);
}

// Run under TSan in CI: scrapes race with updates and removals.
TEST(SelfMetricsTest, RenderWhileUpdating) {
  SelfMetrics metrics("1.2.3", "abc");
  std::atomic<bool> done{false};
  std::thread writer([&] {
    for (int i = 0; i < 300; ++i) {
      const std::string query = "q" + std::to_string(i % 3);
      metrics.SetQuerySuccess(query, true);
      metrics.CountQueryError(query, "network");
      metrics.SetQuerySeries(query, i);
      metrics.ObserveApiRequest("query", "200", 0.1);
      if (i % 10 == 0) metrics.RemoveQuery(query);
    }
    done = true;
  });
  int renders = 0;
  while (!done || renders == 0) {
    EXPECT_NE(metrics.Render().find("cloudaware_up 0"), std::string::npos);
    ++renders;
  }
  writer.join();
}

// The exposition without the process_* samples, whose values move on
// between two renders.
std::string WithoutProcessSamples(const std::string& text) {
  std::istringstream in(text);
  std::string out;
  for (std::string line; std::getline(in, line);) {
    if (!line.starts_with("process_")) out += line + "\n";
  }
  return out;
}

// Every self metric family with a series, for one org.
std::unique_ptr<SelfMetrics> OrgMetrics(const std::string& org) {
  auto metrics = std::make_unique<SelfMetrics>("1.2.3", "abc", org);
  metrics->SetUp(true);
  metrics->CountTokenRequest("success", 1700000000);
  metrics->ObserveApiRequest("query", "200", 0.2);
  metrics->SetQuerySuccess("aws_ec2", true);
  metrics->SetQueryDuration("aws_ec2", 1.5);
  metrics->SetQueryLastSuccess("aws_ec2", 1700000002);
  metrics->CountQueryError("aws_ec2", "INVALID_FIELD");
  metrics->SetQuerySeries("aws_ec2", 7);
  metrics->SetQueryInterval("aws_ec2", 300);
  metrics->CountDroppedSeries("aws_ec2", 2);
  return metrics;
}

// The names of the families, in order, from their TYPE lines.
std::vector<std::string> FamilyNames(const std::string& text) {
  std::vector<std::string> names;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with("# TYPE ")) {
      names.push_back(line.substr(7, line.find(' ', 7) - 7));
    }
  }
  return names;
}

TEST(SelfMetricsTest, OrgLabelsEverySeriesButTheBuildInfo) {
  std::unique_ptr<SelfMetrics> metrics = OrgMetrics("prod");
  const std::string text = metrics->Render();
  EXPECT_EQ(Sample(text, R"(cloudaware_up{org="prod"})"), 1);
  EXPECT_EQ(
      Sample(text, R"(cloudaware_query_success{org="prod",query="aws_ec2"})"),
      1);
  EXPECT_EQ(
      Sample(
          text,
          R"(cloudaware_api_request_duration_seconds_bucket{org="prod",endpoint="query",le="0.25"})"),
      1);
  EXPECT_EQ(
      Sample(
          text,
          R"(cloudaware_exporter_build_info{revision="abc",version="1.2.3"})"),
      1);
  size_t samples = 0;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.starts_with("cloudaware_") ||
        line.starts_with("cloudaware_exporter_build_info")) {
      continue;
    }
    ++samples;
    EXPECT_NE(line.find(R"({org="prod")"), std::string::npos) << line;
  }
  EXPECT_GT(samples, 20u);

  metrics->RemoveQuery("aws_ec2");
  EXPECT_EQ(metrics->Render().find("aws_ec2"), std::string::npos);
  metrics->SetQuerySeries("aws_ec2", 3);
  EXPECT_EQ(Sample(metrics->Render(),
                   R"(cloudaware_query_series{org="prod",query="aws_ec2"})"),
            3);
}

TEST(SelfMetricsTest, EmptyOrgKeepsTheSingleOrgOutput) {
  std::unique_ptr<SelfMetrics> metrics = OrgMetrics("");
  const std::string text = metrics->Render();
  EXPECT_EQ(text.find("org="), std::string::npos) << text;
  EXPECT_TRUE(HasLine(text, "cloudaware_up 1")) << text;
  EXPECT_TRUE(HasLine(text, R"(cloudaware_query_series{query="aws_ec2"} 7)"));
  EXPECT_EQ(WithoutProcessSamples(RenderSelfMetrics({metrics.get()})),
            WithoutProcessSamples(text));
}

TEST(SelfMetricsTest, RendersSeveralOrgsAsOneExposition) {
  std::unique_ptr<SelfMetrics> prod = OrgMetrics("prod");
  std::unique_ptr<SelfMetrics> staging = OrgMetrics("staging");
  staging->SetQuerySeries("azure_vms", 4);
  const std::string text = RenderSelfMetrics({prod.get(), staging.get()});

  std::vector<std::string> names = FamilyNames(text);
  EXPECT_EQ(names, FamilyNames(prod->Render())) << "families or their order";
  std::sort(names.begin(), names.end());
  EXPECT_EQ(std::adjacent_find(names.begin(), names.end()), names.end())
      << "a family written twice:\n"
      << text;

  // Within each family, all series sit between its TYPE line and the next
  // family, and every cloudaware_* family but the build info has both orgs.
  std::istringstream in(text);
  std::string family;
  std::map<std::string, std::set<std::string>> orgs;
  std::map<std::string, int> samples;
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with("# TYPE ")) {
      family = line.substr(7, line.find(' ', 7) - 7);
      continue;
    }
    if (line.starts_with('#')) continue;
    ASSERT_TRUE(line.starts_with(family)) << line << " outside " << family;
    ++samples[family];
    const size_t org = line.find("org=\"");
    if (org != std::string::npos) {
      orgs[family].insert(line.substr(org, line.find('"', org + 5) - org + 1));
    }
  }
  for (const std::string& name : names) {
    if (!name.starts_with("cloudaware_")) continue;
    if (name == "cloudaware_exporter_build_info") {
      EXPECT_EQ(samples[name], 1);
      EXPECT_EQ(orgs.count(name), 0u);
    } else {
      EXPECT_EQ(orgs[name],
                (std::set<std::string>{R"(org="prod")", R"(org="staging")"}))
          << name;
    }
  }
  EXPECT_EQ(samples["process_resident_memory_bytes"], 1);
  EXPECT_EQ(samples["process_cpu_seconds_total"], 1);

  // Sorted by labels, as one instance's series are.
  const size_t prod_up = text.find("cloudaware_up{org=\"prod\"} 1\n");
  const size_t staging_up = text.find("cloudaware_up{org=\"staging\"} 1\n");
  EXPECT_LT(prod_up, staging_up);
  EXPECT_NE(staging_up, std::string::npos);
  EXPECT_EQ(
      Sample(text,
             R"(cloudaware_query_series{org="staging",query="azure_vms"})"),
      4);

  // The merge leaves the instances alone.
  EXPECT_EQ(prod->Render().find("staging"), std::string::npos);
}

TEST(SelfMetricsTest, PromtoolAcceptsSeveralOrgs) {
  ASSERT_EQ(std::system("command -v promtool >/dev/null 2>&1"), 0)
      << "promtool is not installed (apt-get install prometheus)";
  std::unique_ptr<SelfMetrics> prod = OrgMetrics("prod");
  std::unique_ptr<SelfMetrics> staging = OrgMetrics("staging");
  const std::string input = ::testing::TempDir() + "self_metrics_orgs_" +
                            std::to_string(getpid()) + ".prom";
  const std::string output = input + ".out";
  const std::string text = RenderSelfMetrics({prod.get(), staging.get()});
  std::ofstream(input) << text;
  const int status = std::system(
      ("promtool check metrics < " + input + " > " + output + " 2>&1").c_str());
  std::ifstream result(output);
  const std::string report(std::istreambuf_iterator<char>(result), {});
  std::remove(input.c_str());
  std::remove(output.c_str());
  EXPECT_EQ(status, 0) << report << text;
  EXPECT_EQ(report, "") << report;
}

const prometheus::MetricFamily* Find(
    const std::vector<prometheus::MetricFamily>& families, const char* name) {
  for (const auto& family : families) {
    if (family.name == name) return &family;
  }
  return nullptr;
}

TEST(ProcessMetricsTest, PlausibleValues) {
  const std::vector<prometheus::MetricFamily> families =
      CollectProcessMetrics();
  const auto gauge = [&](const char* name) -> double {
    const prometheus::MetricFamily* family = Find(families, name);
    if (family == nullptr) {
      ADD_FAILURE() << name << " missing";
      return -1;
    }
    EXPECT_EQ(family->type, prometheus::MetricType::Gauge) << name;
    EXPECT_EQ(family->metric.size(), 1u) << name;
    return family->metric.at(0).gauge.value;
  };
  const double now = std::chrono::duration<double>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();

  const prometheus::MetricFamily* cpu =
      Find(families, "process_cpu_seconds_total");
  ASSERT_NE(cpu, nullptr);
  EXPECT_EQ(cpu->type, prometheus::MetricType::Counter);
  EXPECT_GE(cpu->metric.at(0).counter.value, 0);

  const double rss = gauge("process_resident_memory_bytes");
  EXPECT_GT(rss, 0);
  EXPECT_GE(gauge("process_virtual_memory_bytes"), rss);
  const double open_fds = gauge("process_open_fds");
  EXPECT_GE(open_fds, 3);  // stdin, stdout, stderr
  EXPECT_GE(gauge("process_max_fds"), open_fds);
  const double start = gauge("process_start_time_seconds");
  EXPECT_GT(start, now - 3600);
  EXPECT_LT(start, now + 1);
}

TEST(ProcessMetricsTest, OpenFdsFollowsFiles) {
  const auto open_fds = [] {
    const auto families = CollectProcessMetrics();
    const prometheus::MetricFamily* family = Find(families, "process_open_fds");
    return family == nullptr ? -1.0 : family->metric.at(0).gauge.value;
  };
  const double before = open_fds();
  std::FILE* files[3] = {std::tmpfile(), std::tmpfile(), std::tmpfile()};
  const double during = open_fds();
  for (std::FILE* file : files) std::fclose(file);
  EXPECT_EQ(during, before + 3);
}

}  // namespace
}  // namespace cloudaware_exporter
