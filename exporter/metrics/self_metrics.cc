#include "exporter/metrics/self_metrics.h"

#include <prometheus/text_serializer.h>

#include <algorithm>
#include <iterator>
#include <map>
#include <tuple>
#include <vector>

#include "exporter/base/metric_names.h"
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

prometheus::Labels OrgLabels(const std::string& org) {
  if (org.empty()) return {};
  return {{"org", org}};
}

// Every self metric carries the org as a constant label (none for a config
// without a list of orgs).
template <typename Builder>
auto& Register(Builder builder, const MetricName& metric,
               const std::string& org, prometheus::Registry& registry) {
  return builder.Name(std::string(metric.name))
      .Help(std::string(metric.help))
      .Labels(OrgLabels(org))
      .Register(registry);
}

prometheus::Gauge& Single(const MetricName& metric, const std::string& org,
                          prometheus::Registry& registry) {
  return Register(BuildGauge(), metric, org, registry).Add({});
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
      up_(Single(self_metric::kUp, org, *registry_)),
      token_requests_(Register(BuildCounter(), self_metric::kTokenRequests, org,
                               *registry_)),
      token_last_success_(
          Single(self_metric::kTokenLastSuccess, org, *registry_)),
      token_valid_(Single(self_metric::kTokenValid, org, *registry_)),
      api_requests_(
          Register(BuildCounter(), self_metric::kApiRequests, org, *registry_)),
      api_duration_(Register(BuildHistogram(), self_metric::kApiRequestDuration,
                             org, *registry_)),
      daily_limit_(Single(self_metric::kDailyLimit, org, *registry_)),
      daily_used_(Single(self_metric::kDailyUsed, org, *registry_)),
      composite_fallback_(
          Single(self_metric::kCompositeFallback, org, *registry_)),
      interval_stretch_(Single(self_metric::kIntervalStretch, org, *registry_)),
      query_success_(
          Register(BuildGauge(), self_metric::kQuerySuccess, org, *registry_)),
      query_duration_(
          Register(BuildGauge(), self_metric::kQueryDuration, org, *registry_)),
      query_last_success_(Register(BuildGauge(), self_metric::kQueryLastSuccess,
                                   org, *registry_)),
      query_errors_(
          Register(BuildCounter(), self_metric::kQueryErrors, org, *registry_)),
      query_series_(
          Register(BuildGauge(), self_metric::kQuerySeries, org, *registry_)),
      query_interval_(
          Register(BuildGauge(), self_metric::kQueryInterval, org, *registry_)),
      query_series_dropped_(Register(
          BuildCounter(), self_metric::kQuerySeriesDropped, org, *registry_)) {
  Register(BuildGauge(), self_metric::kBuildInfo, "", *registry_)
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
      } else if (family.name != self_metric::kBuildInfo.name) {
        auto& into = merged[it->second].metric;
        into.insert(into.end(), std::make_move_iterator(family.metric.begin()),
                    std::make_move_iterator(family.metric.end()));
      }
    }
  }
  return Serialize(std::move(merged));
}

}  // namespace cloudaware_exporter
