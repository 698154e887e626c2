// The exporter's own metrics (README, "Metrics"), kept in one
// prometheus::Registry. Token, client and poller threads update them through
// the methods below; scrape threads call Render(). prometheus-cpp's metric
// types are thread-safe, and the few maps here are guarded by a mutex.
//
// With several Cloudaware orgs in one process, each org has its own instance,
// named by org, and RenderSelfMetrics() renders them together.
#ifndef CLOUDAWARE_EXPORTER_SELF_METRICS_H_
#define CLOUDAWARE_EXPORTER_SELF_METRICS_H_

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/metric_family.h>
#include <prometheus/registry.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace cloudaware_exporter {

class SelfMetrics {
 public:
  // A non-empty org adds the label org="<org>" to every series but the
  // build info's.
  SelfMetrics(const std::string& version, const std::string& revision,
              const std::string& org = "");

  // cloudaware_up. ReportOutcome() (cmdb/api_outcome.h), which holds the
  // rule, is its one caller.
  void SetUp(bool up);
  bool up() const;  // the value SetUp last set; false before any
  // result: "success", an OAuth error code, "http_<status>" or "network".
  void CountTokenRequest(const std::string& result, double unix_seconds_now);
  void SetTokenValid(bool valid);
  // endpoint: token, query, query_more, limits, composite, ...; code: the
  // HTTP status, or "network" / "timeout" when there was none.
  void ObserveApiRequest(const std::string& endpoint, const std::string& code,
                         double seconds);
  void SetDailyRequests(int64_t used, int64_t limit);
  // 1 once the org refused /composite and queries go one by one.
  void SetCompositeFallback(bool fallback);
  // The budget guard's multiplier of query intervals; 1 normally.
  void SetIntervalStretch(double stretch);

  void SetQuerySuccess(const std::string& query, bool success);
  void SetQueryDuration(const std::string& query, double seconds);
  void SetQueryLastSuccess(const std::string& query, double unix_seconds);
  void CountQueryError(const std::string& query, const std::string& error);
  void SetQuerySeries(const std::string& query, double series);
  void SetQueryInterval(const std::string& query, double seconds);
  // Series a run produced beyond the query's max_series.
  void CountDroppedSeries(const std::string& query, double series);
  // Forgets a query's series (it left the config on reload).
  void RemoveQuery(const std::string& query);

  // Self and process_* metrics in the text exposition format.
  std::string Render() const;
  // The self metrics alone, as prometheus-cpp collected them.
  std::vector<prometheus::MetricFamily> Collect() const;

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Gauge& up_;
  prometheus::Family<prometheus::Counter>& token_requests_;
  prometheus::Gauge& token_last_success_;
  prometheus::Gauge& token_valid_;
  prometheus::Family<prometheus::Counter>& api_requests_;
  prometheus::Family<prometheus::Histogram>& api_duration_;
  prometheus::Gauge& daily_limit_;
  prometheus::Gauge& daily_used_;
  prometheus::Gauge& composite_fallback_;
  prometheus::Gauge& interval_stretch_;
  prometheus::Family<prometheus::Gauge>& query_success_;
  prometheus::Family<prometheus::Gauge>& query_duration_;
  prometheus::Family<prometheus::Gauge>& query_last_success_;
  prometheus::Family<prometheus::Counter>& query_errors_;
  prometheus::Family<prometheus::Gauge>& query_series_;
  prometheus::Family<prometheus::Gauge>& query_interval_;
  prometheus::Family<prometheus::Counter>& query_series_dropped_;
  mutable std::mutex mu_;  // guards Remove against concurrent Add
};

// Renders the self metrics of several orgs as one exposition: each family
// once, with the series of every instance, then the process_* metrics. The
// build info comes from the first instance, as all carry the same one. The
// instances need distinct orgs, or their series would collide.
std::string RenderSelfMetrics(const std::vector<const SelfMetrics*>& orgs);

}  // namespace cloudaware_exporter

#endif  // CLOUDAWARE_EXPORTER_SELF_METRICS_H_
