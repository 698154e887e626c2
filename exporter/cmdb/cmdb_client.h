// Runs SOQL queries against the CMDB REST API: one call per query, or one
// /composite call for up to 5 queries (QueryBatch), plus one per
// nextRecordsUrl page of a non-aggregate result. Authenticates through
// TokenSource, renewing the token once after a 401 INVALID_SESSION_ID.
//
// Retry policy: network errors, timeouts and 5xx answers (JSON or an HTML
// page from an edge proxy) are retried up to max_retries times after an
// exponential backoff with full jitter; query errors (400 class) are not.
// After a 403 REQUEST_LIMIT_EXCEEDED no call is sent until limit_pause has
// passed: the allocation or the concurrency cap will not recover sooner.
//
// Budget guard: every answer's Sforce-Limit-Info tells how much of the org's
// daily allocation is left. Below budget_min_remaining of it, IntervalStretch()
// grows in proportion (half that share left: intervals twice as long), up to
// budget_max_stretch; the poller multiplies query intervals by it.
//
// Thread-safe: the poller's workers call Query() concurrently.
#ifndef CLOUDAWARE_EXPORTER_CMDB_CLIENT_H_
#define CLOUDAWARE_EXPORTER_CMDB_CLIENT_H_

#include <chrono>
#include <cstdint>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "exporter/cmdb/api_error.h"
#include "exporter/cmdb/api_status.h"
#include "exporter/cmdb/query_result.h"

namespace cloudaware_exporter {

class HttpClient;
class SelfMetrics;
class TokenSource;
struct CloudawareConfig;
struct HttpResponse;

// "api-usage=18/5000[; per-app-api-usage=...]" -> {18, 5000}.
std::optional<std::pair<int64_t, int64_t>> ParseLimitInfo(
    std::string_view header);

// The error in a REST error response, whatever the body: a JSON array of
// {message, errorCode}, a single such object, an OAuth-style object, HTML or
// nothing. The code is the errorCode when it looks like one, else
// http_<status>.
CmdbError ParseRestError(int status, const std::string& body);
// The same for a body already parsed (a composite subresponse's).
CmdbError RestErrorFromJson(int status, const nlohmann::json& body);

// One page of a query response.
struct QueryPage {
  int64_t total_size = 0;
  bool done = true;
  bool aggregate = false;        // its records are AggregateResult rows
  std::string next_records_url;  // set when not done and not aggregate
  nlohmann::json records;        // an array
};

// Reads a 2xx query response body. Throws CmdbError "parse" naming what is
// wrong, or "truncated" for an aggregate result that is not done or has
// 2,000 rows or more (the API's cap on groups, which hides any beyond it).
QueryPage ParseQueryPage(const std::string& body);
// The same, but the records go to sink as they are parsed (see
// page_stream.h), a listing's without attributes, and page.records is left
// empty. The checks and errors are ParseQueryPage's; they come once the
// page is read, when the sink may already hold some of its records.
QueryPage ParseQueryPage(const std::string& body, RecordSink& sink);
// The same for a body already parsed (a composite subresponse).
QueryPage QueryPageFromJson(nlohmann::json doc);

// What a /composite answer says of one subrequest: the first page of its
// result, or its own error.
struct CompositeAnswer {
  std::optional<QueryPage> page;
  std::optional<CmdbError> error;
};

// Reads a /composite answer to n query subrequests with referenceIds q0 to
// q<n-1>. A subresponse that is missing, or that is not a query page,
// becomes that query's error. Throws CmdbError "parse" when the answer has
// no compositeResponse array.
std::vector<CompositeAnswer> ParseCompositeResponse(const std::string& body,
                                                    size_t n);

// The most queries one /composite request may carry (Salesforce's /composite
// resource).
constexpr size_t kCompositeMaxQueries = 5;

// What one query of a batch came to: a result, or its own error.
struct QueryOutcome {
  QueryResult result;
  std::optional<CmdbError> error;
};

// The interval multiplier for a daily allocation with `used` of `limit`
// calls spent: 1 while at least min_remaining of it is left, then
// min_remaining / remaining share, at most max_stretch.
double BudgetStretch(int64_t used, int64_t limit, double min_remaining,
                     double max_stretch);

class CmdbClient {
 public:
  struct Options {
    int max_retries = 2;
    // The wait before retry n (from 0) is uniform in
    // [0, min(max_backoff, min_backoff * 2^n)].
    std::chrono::milliseconds min_backoff{std::chrono::seconds(1)};
    std::chrono::milliseconds max_backoff{std::chrono::seconds(30)};
    // How long to send nothing after REQUEST_LIMIT_EXCEEDED: the shortest
    // query interval, so that each query next tries in its next cycle.
    std::chrono::milliseconds limit_pause{std::chrono::minutes(5)};
  };

  CmdbClient(const CloudawareConfig& config, TokenSource& tokens,
             HttpClient& http, SelfMetrics& metrics);
  // max_retries comes from the config, the rest from options.
  CmdbClient(const CloudawareConfig& config, TokenSource& tokens,
             HttpClient& http, SelfMetrics& metrics, Options options);

  // Runs one query. Non-aggregate results are followed through
  // nextRecordsUrl; an aggregate result that is not done, or has 2,000 rows
  // or more, throws "truncated", as does the API's refusal of too many groups.
  QueryResult Query(const std::string& soql);
  // The same, each page's records streamed into sink as it arrives; the
  // result's records stay empty. After a throw the sink may hold some
  // records of the failed query.
  QueryResult Query(const std::string& soql, RecordSink& sink);
  // Runs up to kCompositeMaxQueries queries in one /composite call, which
  // costs one API call. A failing subrequest fails only its own query; a
  // failure of the whole call fails them all. If the org refuses /composite
  // (a 4xx other than 401 and REQUEST_LIMIT_EXCEEDED), the queries are sent
  // one by one, now and from then on; that is logged once and shown by
  // cloudaware_api_composite_fallback. Never throws CmdbError. The records
  // of soqls[i] go to sinks[i], as with Query(soql, sink); a failed query's
  // sink may hold some of them.
  std::vector<QueryOutcome> QueryBatch(const std::vector<std::string>& soqls,
                                       const std::vector<RecordSink*>& sinks);
  // The sObject Describe resource of one object: its fields with type,
  // groupable, referenceTo and relationshipName. Counted under endpoint
  // "describe". Throws CmdbError: NOT_FOUND (404) for an unknown object,
  // "parse" for an answer that is not a JSON object.
  nlohmann::json Describe(const std::string& object);
  // Describe Global (GET /sobjects/): the names of the org's objects, in the
  // order the answer gives them. Counted under endpoint "sobjects". Throws
  // CmdbError "parse" when the answer has no sobjects array.
  std::vector<std::string> DescribeGlobal();
  // The budget guard's interval multiplier, 1 when the budget is fine.
  double IntervalStretch();
  // Thread-safe.
  ApiBudget Budget();
  // True once the HTTP client was stopped: failures from then on are the
  // shutdown's, not the API's.
  bool stopping();

 private:
  // One authenticated GET, or POST of a JSON body, with retries; returns the
  // body of a 2xx answer.
  std::string Call(const std::string& endpoint, const std::string& path,
                   const std::string* json_body = nullptr);
  // One attempt, with the token renewed once after a 401.
  std::string Attempt(const std::string& endpoint, const std::string& path,
                      const std::string* json_body);
  // The rest of a result whose first page is read: page.records, if any,
  // then the later pages' go to sink.
  QueryResult FollowPages(QueryPage page, RecordSink& sink);
  void CheckPause();
  void UpdateBudget(int64_t used, int64_t limit);

  const std::string api_version_;
  const double budget_min_remaining_;
  const double budget_max_stretch_;
  const Options options_;
  TokenSource& tokens_;
  HttpClient& http_;
  SelfMetrics& metrics_;

  std::mutex mu_;
  std::chrono::steady_clock::time_point paused_until_{};  // guarded by mu_
  bool composite_refused_ = false;                        // guarded by mu_
  double stretch_ = 1;                                    // guarded by mu_
  std::optional<std::pair<int64_t, int64_t>> usage_;      // guarded by mu_
};

}  // namespace cloudaware_exporter

#endif  // CLOUDAWARE_EXPORTER_CMDB_CLIENT_H_
