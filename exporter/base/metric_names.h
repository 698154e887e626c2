// The names, types and help texts of the exporter's own metrics, in one
// list: SelfMetrics registers them, and the config refuses a query metric
// that would collide with one of them (or with a series a histogram adds).
#ifndef CLOUDAWARE_EXPORTER_BASE_METRIC_NAMES_H_
#define CLOUDAWARE_EXPORTER_BASE_METRIC_NAMES_H_

#include <array>
#include <string_view>

namespace cloudaware_exporter {

enum class MetricType { kCounter, kGauge, kHistogram };

struct MetricName {
  std::string_view name;
  MetricType type;
  std::string_view help;
};

namespace self_metric {

inline constexpr MetricName kUp{
    "cloudaware_up", MetricType::kGauge,
    "1 if the exporter's last request to the Cloudaware API (token or query) "
    "was answered by a working API; 0 after a network error, a 5xx response, a "
    "refused token or REQUEST_LIMIT_EXCEEDED."};
inline constexpr MetricName kTokenRequests{
    "cloudaware_token_requests_total", MetricType::kCounter,
    "OAuth token requests the exporter sent, by result: success, the OAuth "
    "error code, http_<status> or network."};
inline constexpr MetricName kTokenLastSuccess{
    "cloudaware_token_last_success_timestamp_seconds", MetricType::kGauge,
    "Unix time when the exporter last obtained an OAuth token; 0 if it never "
    "did."};
inline constexpr MetricName kTokenValid{
    "cloudaware_token_valid", MetricType::kGauge,
    "1 while the exporter holds an OAuth token the API accepts; 0 before the "
    "first token and after the API refused one."};
inline constexpr MetricName kApiRequests{
    "cloudaware_api_requests_total", MetricType::kCounter,
    "HTTP requests the exporter sent to the Cloudaware API, by endpoint and "
    "response status code (network or timeout when no response arrived)."};
inline constexpr MetricName kApiRequestDuration{
    "cloudaware_api_request_duration_seconds", MetricType::kHistogram,
    "Time from sending an HTTP request to the Cloudaware API until its "
    "response was read in full, by endpoint."};
inline constexpr MetricName kDailyLimit{
    "cloudaware_api_daily_requests_limit", MetricType::kGauge,
    "The org's daily API request allocation, from the Sforce-Limit-Info header "
    "of the latest API response; 0 until the first response."};
inline constexpr MetricName kDailyUsed{
    "cloudaware_api_daily_requests_used", MetricType::kGauge,
    "API requests the org used in the last 24 hours, by all clients, from the "
    "Sforce-Limit-Info header of the latest API response; 0 until the first "
    "response."};
inline constexpr MetricName kCompositeFallback{
    "cloudaware_api_composite_fallback", MetricType::kGauge,
    "1 if batching: composite is configured but the org refused /composite, so "
    "queries go one API call each; 0 otherwise."};
inline constexpr MetricName kIntervalStretch{
    "cloudaware_api_budget_stretch_factor", MetricType::kGauge,
    "The budget guard's multiplier of query intervals: 1 normally, more while "
    "less than budget_min_remaining of the daily API allocation is left."};
inline constexpr MetricName kQuerySuccess{
    "cloudaware_query_success", MetricType::kGauge,
    "1 if the query's last run succeeded, 0 if it failed. Queries run on their "
    "configured interval, not at scrape time."};
inline constexpr MetricName kQueryDuration{
    "cloudaware_query_duration_seconds", MetricType::kGauge,
    "How long the query's last run took, all result pages included."};
inline constexpr MetricName kQueryLastSuccess{
    "cloudaware_query_last_success_timestamp_seconds", MetricType::kGauge,
    "Unix time when the query last ran successfully."};
inline constexpr MetricName kQueryErrors{
    "cloudaware_query_errors_total", MetricType::kCounter,
    "Failed runs of the query, by error: the API errorCode, or network, "
    "timeout, parse or http_<status>."};
inline constexpr MetricName kQuerySeries{
    "cloudaware_query_series", MetricType::kGauge,
    "Series the query currently exports: those of its last successful run, "
    "until they go stale."};
inline constexpr MetricName kQueryInterval{
    "cloudaware_query_interval_seconds", MetricType::kGauge,
    "How often the query is configured to run; alerts compare the age of its "
    "last success with this."};
inline constexpr MetricName kQuerySeriesDropped{
    "cloudaware_query_series_dropped_total", MetricType::kCounter,
    "Series a query produced beyond its max_series, and so did not export."};
inline constexpr MetricName kBuildInfo{
    "cloudaware_exporter_build_info", MetricType::kGauge,
    "Always 1, labelled by the version and the git revision the exporter was "
    "built from."};

inline constexpr std::array kAll = {kUp,
                                    kTokenRequests,
                                    kTokenLastSuccess,
                                    kTokenValid,
                                    kApiRequests,
                                    kApiRequestDuration,
                                    kDailyLimit,
                                    kDailyUsed,
                                    kCompositeFallback,
                                    kIntervalStretch,
                                    kQuerySuccess,
                                    kQueryDuration,
                                    kQueryLastSuccess,
                                    kQueryErrors,
                                    kQuerySeries,
                                    kQueryInterval,
                                    kQuerySeriesDropped,
                                    kBuildInfo};

}  // namespace self_metric

// True for a self metric's name, and for the _bucket, _sum and _count series
// of a histogram among them.
bool IsSelfMetricName(std::string_view name);

}  // namespace cloudaware_exporter

#endif  // CLOUDAWARE_EXPORTER_BASE_METRIC_NAMES_H_
