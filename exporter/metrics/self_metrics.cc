#include "exporter/metrics/self_metrics.h"

#include <prometheus/text_serializer.h>

#include <algorithm>
#include <iterator>
#include <map>
#include <tuple>
#include <vector>

#include "exporter/metrics/process_metrics.h"

namespace cloudaware_exporter {
namespace {

using prometheus::BuildCounter;
using prometheus::BuildGauge;
using prometheus::BuildHistogram;

// From a fast /limits call to a query that pages through thousands of
// records; the last bounds match the default request_timeout of 2m.
const prometheus::Histogram::BucketBoundaries kApiBuckets = {
    0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120};

// Family::Remove wants the metric object, so find every series carrying the
// query label and look its object up again by its full label set.
template <typename T>
void RemoveQuerySeries(prometheus::Family<T>& family,
                       const std::string& query) {
  // Add() refuses the family's constant labels (the org).
  const prometheus::Labels constant = family.GetConstantLabels();
  for (const prometheus::MetricFamily& collected : family.Collect()) {
    for (const prometheus::ClientMetric& metric : collected.metric) {
      prometheus::Labels labels;
      for (const auto& label : metric.label) {
        if (constant.count(label.name) == 0) labels[label.name] = label.value;
      }
      auto it = labels.find("query");
      if (it != labels.end() && it->second == query) {
        family.Remove(&family.Add(labels));
      }
    }
  }
}

const char kBuildInfo[] = "cloudaware_exporter_build_info";

prometheus::Labels OrgLabels(const std::string& org) {
  if (org.empty()) return {};
  return {{"org", org}};
}

// Appends the process_* metrics, sorts each family's series by labels and
// renders the lot.
std::string Serialize(std::vector<prometheus::MetricFamily> families) {
  std::vector<prometheus::MetricFamily> process = CollectProcessMetrics();
  families.insert(families.end(), std::make_move_iterator(process.begin()),
                  std::make_move_iterator(process.end()));
  // prometheus-cpp keeps a family's series in a hash map; sort them by
  // labels so that the output is stable from one scrape to the next.
  for (auto& family : families) {
    std::stable_sort(family.metric.begin(), family.metric.end(),
                     [](const prometheus::ClientMetric& a,
                        const prometheus::ClientMetric& b) {
                       return std::lexicographical_compare(
                           a.label.begin(), a.label.end(), b.label.begin(),
                           b.label.end(), [](const auto& x, const auto& y) {
                             return std::tie(x.name, x.value) <
                                    std::tie(y.name, y.value);
                           });
                     });
  }
  return prometheus::TextSerializer().Serialize(families);
}

}  // namespace

SelfMetrics::SelfMetrics(const std::string& version,
                         const std::string& revision, const std::string& org)
    : registry_(std::make_shared<prometheus::Registry>()),
      up_(BuildGauge()
              .Name("cloudaware_up")
              .Help("1 if the exporter's last request to the Cloudaware API "
                    "(token or query) was answered by a working API; 0 after "
                    "a network error, a 5xx response, a refused token or "
                    "REQUEST_LIMIT_EXCEEDED.")
              .Labels(OrgLabels(org))
              .Register(*registry_)
              .Add({})),
      token_requests_(
          BuildCounter()
              .Name("cloudaware_token_requests_total")
              .Help("OAuth token requests the exporter sent, by result: "
                    "success, the OAuth error code, http_<status> or network.")
              .Labels(OrgLabels(org))
              .Register(*registry_)),
      token_last_success_(
          BuildGauge()
              .Name("cloudaware_token_last_success_timestamp_seconds")
              .Help("Unix time when the exporter last obtained an OAuth "
                    "token; 0 if it never did.")
              .Labels(OrgLabels(org))
              .Register(*registry_)
              .Add({})),
      token_valid_(BuildGauge()
                       .Name("cloudaware_token_valid")
                       .Help("1 while the exporter holds an OAuth token the "
                             "API accepts; 0 before the first token and after "
                             "the API refused one.")
                       .Labels(OrgLabels(org))
                       .Register(*registry_)
                       .Add({})),
      api_requests_(
          BuildCounter()
              .Name("cloudaware_api_requests_total")
              .Help("HTTP requests the exporter sent to the Cloudaware API, "
                    "by endpoint and response status code (network or "
                    "timeout when no response arrived).")
              .Labels(OrgLabels(org))
              .Register(*registry_)),
      api_duration_(
          BuildHistogram()
              .Name("cloudaware_api_request_duration_seconds")
              .Help("Time from sending an HTTP request to the Cloudaware API "
                    "until its response was read in full, by endpoint.")
              .Labels(OrgLabels(org))
              .Register(*registry_)),
      daily_limit_(
          BuildGauge()
              .Name("cloudaware_api_daily_requests_limit")
              .Help("The org's daily API request allocation, from the "
                    "Sforce-Limit-Info header of the latest API response; 0 "
                    "until the first response.")
              .Labels(OrgLabels(org))
              .Register(*registry_)
              .Add({})),
      daily_used_(
          BuildGauge()
              .Name("cloudaware_api_daily_requests_used")
              .Help("API requests the org used in the last 24 hours, by all "
                    "clients, from the Sforce-Limit-Info header of the latest "
                    "API response; 0 until the first response.")
              .Labels(OrgLabels(org))
              .Register(*registry_)
              .Add({})),
      composite_fallback_(
          BuildGauge()
              .Name("cloudaware_api_composite_fallback")
              .Help("1 if batching: composite is configured but the org "
                    "refused /composite, so queries go one API call each; 0 "
                    "otherwise.")
              .Labels(OrgLabels(org))
              .Register(*registry_)
              .Add({})),
      interval_stretch_(
          BuildGauge()
              .Name("cloudaware_api_budget_stretch_factor")
              .Help("The budget guard's multiplier of query intervals: 1 "
                    "normally, more while less than budget_min_remaining of "
                    "the daily API allocation is left.")
              .Labels(OrgLabels(org))
              .Register(*registry_)
              .Add({})),
      query_success_(
          BuildGauge()
              .Name("cloudaware_query_success")
              .Help("1 if the query's last run succeeded, 0 if it failed. "
                    "Queries run on their configured interval, not at scrape "
                    "time.")
              .Labels(OrgLabels(org))
              .Register(*registry_)),
      query_duration_(
          BuildGauge()
              .Name("cloudaware_query_duration_seconds")
              .Help("How long the query's last run took, all result pages "
                    "included.")
              .Labels(OrgLabels(org))
              .Register(*registry_)),
      query_last_success_(
          BuildGauge()
              .Name("cloudaware_query_last_success_timestamp_seconds")
              .Help("Unix time when the query last ran successfully.")
              .Labels(OrgLabels(org))
              .Register(*registry_)),
      query_errors_(
          BuildCounter()
              .Name("cloudaware_query_errors_total")
              .Help("Failed runs of the query, by error: the API errorCode, "
                    "or network, timeout, parse or http_<status>.")
              .Labels(OrgLabels(org))
              .Register(*registry_)),
      query_series_(
          BuildGauge()
              .Name("cloudaware_query_series")
              .Help("Series the query currently exports: those of its last "
                    "successful run, until they go stale.")
              .Labels(OrgLabels(org))
              .Register(*registry_)),
      query_interval_(
          BuildGauge()
              .Name("cloudaware_query_interval_seconds")
              .Help("How often the query is configured to run; alerts compare "
                    "the age of its last success with this.")
              .Labels(OrgLabels(org))
              .Register(*registry_)),
      query_series_dropped_(
          BuildCounter()
              .Name("cloudaware_query_series_dropped_total")
              .Help("Series a query produced beyond its max_series, and so "
                    "did not export.")
              .Labels(OrgLabels(org))
              .Register(*registry_)) {
  BuildGauge()
      .Name(kBuildInfo)
      .Help(
          "Always 1, labelled by the version and the git revision the "
          "exporter was built from.")
      .Register(*registry_)
      .Add({{"version", version}, {"revision", revision}})
      .Set(1);
  interval_stretch_.Set(1);
}

void SelfMetrics::SetUp(bool up) { up_.Set(up ? 1 : 0); }

bool SelfMetrics::up() const { return up_.Value() == 1; }

void SelfMetrics::CountTokenRequest(const std::string& result,
                                    double unix_seconds_now) {
  token_requests_.Add({{"result", result}}).Increment();
  if (result == "success") token_last_success_.Set(unix_seconds_now);
}

void SelfMetrics::SetTokenValid(bool valid) { token_valid_.Set(valid ? 1 : 0); }

void SelfMetrics::ObserveApiRequest(const std::string& endpoint,
                                    const std::string& code, double seconds) {
  api_requests_.Add({{"endpoint", endpoint}, {"code", code}}).Increment();
  api_duration_.Add({{"endpoint", endpoint}}, kApiBuckets).Observe(seconds);
}

void SelfMetrics::SetDailyRequests(int64_t used, int64_t limit) {
  daily_used_.Set(static_cast<double>(used));
  daily_limit_.Set(static_cast<double>(limit));
}

void SelfMetrics::SetCompositeFallback(bool fallback) {
  composite_fallback_.Set(fallback ? 1 : 0);
}

void SelfMetrics::SetIntervalStretch(double stretch) {
  interval_stretch_.Set(stretch);
}

// The query families hold mu_ while they use a series, so that RemoveQuery
// cannot free it in between.
void SelfMetrics::SetQuerySuccess(const std::string& query, bool success) {
  std::lock_guard<std::mutex> lock(mu_);
  query_success_.Add({{"query", query}}).Set(success ? 1 : 0);
}

void SelfMetrics::SetQueryDuration(const std::string& query, double seconds) {
  std::lock_guard<std::mutex> lock(mu_);
  query_duration_.Add({{"query", query}}).Set(seconds);
}

void SelfMetrics::SetQueryLastSuccess(const std::string& query,
                                      double unix_seconds) {
  std::lock_guard<std::mutex> lock(mu_);
  query_last_success_.Add({{"query", query}}).Set(unix_seconds);
}

void SelfMetrics::CountQueryError(const std::string& query,
                                  const std::string& error) {
  std::lock_guard<std::mutex> lock(mu_);
  query_errors_.Add({{"query", query}, {"error", error}}).Increment();
}

void SelfMetrics::SetQuerySeries(const std::string& query, double series) {
  std::lock_guard<std::mutex> lock(mu_);
  query_series_.Add({{"query", query}}).Set(series);
}

void SelfMetrics::SetQueryInterval(const std::string& query, double seconds) {
  std::lock_guard<std::mutex> lock(mu_);
  query_interval_.Add({{"query", query}}).Set(seconds);
}

void SelfMetrics::CountDroppedSeries(const std::string& query, double series) {
  std::lock_guard<std::mutex> lock(mu_);
  query_series_dropped_.Add({{"query", query}}).Increment(series);
}

void SelfMetrics::RemoveQuery(const std::string& query) {
  std::lock_guard<std::mutex> lock(mu_);
  RemoveQuerySeries(query_success_, query);
  RemoveQuerySeries(query_duration_, query);
  RemoveQuerySeries(query_last_success_, query);
  RemoveQuerySeries(query_errors_, query);
  RemoveQuerySeries(query_series_, query);
  RemoveQuerySeries(query_interval_, query);
  RemoveQuerySeries(query_series_dropped_, query);
}

std::vector<prometheus::MetricFamily> SelfMetrics::Collect() const {
  return registry_->Collect();
}

std::string SelfMetrics::Render() const { return Serialize(Collect()); }

std::string RenderSelfMetrics(const std::vector<const SelfMetrics*>& orgs) {
  std::vector<prometheus::MetricFamily> merged;
  std::map<std::string, size_t> index;  // family name -> position in merged
  for (const SelfMetrics* org : orgs) {
    for (prometheus::MetricFamily& family : org->Collect()) {
      auto [it, added] = index.emplace(family.name, merged.size());
      if (added) {
        merged.push_back(std::move(family));
      } else if (family.name != kBuildInfo) {
        auto& into = merged[it->second].metric;
        into.insert(into.end(), std::make_move_iterator(family.metric.begin()),
                    std::make_move_iterator(family.metric.end()));
      }
    }
  }
  return Serialize(std::move(merged));
}

}  // namespace cloudaware_exporter
