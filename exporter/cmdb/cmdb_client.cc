#include "exporter/cmdb/cmdb_client.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <random>

#include "exporter/base/backoff.h"
#include "exporter/base/log.h"
#include "exporter/cmdb/api_outcome.h"
#include "exporter/cmdb/http_client.h"
#include "exporter/cmdb/page_stream.h"
#include "exporter/cmdb/token_source.h"
#include "exporter/metrics/self_metrics.h"

namespace cloudaware_exporter {
namespace {

using Clock = std::chrono::steady_clock;

// Non-aggregate results longer than this many pages are cut off rather
// than followed for ever.
constexpr int kMaxPages = 1000;

// Salesforce returns at most 2,000 groups of an aggregate query and cannot
// page through more (SOQL GROUP BY considerations): a result of that many rows
// may be missing groups, and its sums would be wrong without anyone noticing.
constexpr size_t kAggregateRowCap = 2000;

// How Salesforce words its refusal of an aggregate query with more groups
// than fit one batch; the errorCode is not documented.
constexpr std::string_view kAggregateOverflowText =
    "does not support queryMore";

bool LooksLikeErrorCode(const std::string& s) {
  return !s.empty() && s.size() <= 64 &&
         std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= 'A' && c <= 'Z') || c == '_'; });
}

// A short, single-line rendering of a body that is not JSON (an HTML page
// from an edge proxy, say): the <title> if there is one.
std::string Excerpt(const std::string& body) {
  std::string text = body;
  size_t t = text.find("<title>");
  if (t != std::string::npos) {
    size_t end = text.find("</title>", t);
    text = text.substr(t + 7, end == std::string::npos ? 100 : end - t - 7);
  }
  std::string out;
  for (char c : text.substr(0, 200))
    out += (c == '\n' || c == '\r' || c == '\t') ? ' ' : c;
  return out;
}

// The 401 that means "get a new token": every 401 except the variants
// jsforce singles out as policy problems ("This session is not valid for use
// with the REST API", src/http-api.ts isSessionExpired) is treated as one.
bool IsInvalidSession(const CmdbError& e) {
  return e.status() == 401 &&
         (e.code() == "INVALID_SESSION_ID" || e.code() == "http_401") &&
         std::string_view(e.what()).find(
             "not valid for use with the REST API") == std::string_view::npos;
}

std::string Fixed(double x) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.2f", x);
  return buffer;
}

}  // namespace

std::optional<std::pair<int64_t, int64_t>> ParseLimitInfo(
    std::string_view header) {
  constexpr std::string_view kKey = "api-usage=";
  size_t pos = 0;
  // "per-app-api-usage=" also contains the key: take the one at the start or
  // after a separator.
  while ((pos = header.find(kKey, pos)) != std::string_view::npos) {
    if (pos == 0 || header[pos - 1] == ' ' || header[pos - 1] == ';' ||
        header[pos - 1] == ',') {
      break;
    }
    pos += kKey.size();
  }
  if (pos == std::string_view::npos) return std::nullopt;
  std::string_view rest = header.substr(pos + kKey.size());
  int64_t used = 0, limit = 0;
  auto r1 = std::from_chars(rest.data(), rest.data() + rest.size(), used);
  if (r1.ec != std::errc() || r1.ptr == rest.data() + rest.size() ||
      *r1.ptr != '/') {
    return std::nullopt;
  }
  const char* second = r1.ptr + 1;
  auto r2 = std::from_chars(second, rest.data() + rest.size(), limit);
  if (r2.ec != std::errc() || r2.ptr == second || used < 0 || limit <= 0)
    return std::nullopt;
  return std::make_pair(used, limit);
}

namespace {

std::optional<CmdbError> MaybeRestError(int status, const nlohmann::json& doc) {
  const std::string http = "http_" + std::to_string(status);
  if (doc.is_array() && !doc.empty()) {
    std::string code, message;
    for (const auto& e : doc) {
      if (!e.is_object()) continue;
      std::string c = e.contains("errorCode") && e["errorCode"].is_string()
                          ? e["errorCode"].get<std::string>()
                          : "";
      std::string m = e.contains("message") && e["message"].is_string()
                          ? e["message"].get<std::string>()
                          : "";
      if (code.empty()) code = c;
      if (!message.empty()) message += "; ";
      message += (c.empty() ? "" : c + ": ") + m;
    }
    if (message.find(kAggregateOverflowText) != std::string::npos) {
      // Too many groups, whichever errorCode the API gave it: the same
      // failure as a result cut at 2,000 rows, and the same remedy.
      return CmdbError("truncated",
                       "HTTP " + std::to_string(status) + ": " +
                           message.substr(0, 1000) +
                           " (the API returns at most 2,000 groups)",
                       status);
    }
    if (!message.empty() || !code.empty()) {
      return CmdbError(
          LooksLikeErrorCode(code) ? code : http,
          "HTTP " + std::to_string(status) + ": " + message.substr(0, 1000),
          status);
    }
  }
  if (doc.is_object()) {
    for (const auto& [code_key, msg_key] :
         {std::pair{"errorCode", "message"},
          std::pair{"error", "error_description"}}) {
      if (doc.contains(code_key) && doc[code_key].is_string()) {
        std::string code = doc[code_key].get<std::string>();
        std::string message = doc.contains(msg_key) && doc[msg_key].is_string()
                                  ? doc[msg_key].get<std::string>()
                                  : "";
        return CmdbError(LooksLikeErrorCode(code) ? code : http,
                         "HTTP " + std::to_string(status) + ": " +
                             code.substr(0, 64) + ": " +
                             message.substr(0, 1000),
                         status);
      }
    }
  }
  return std::nullopt;
}

}  // namespace

CmdbError RestErrorFromJson(int status, const nlohmann::json& doc) {
  if (auto error = MaybeRestError(status, doc)) return *error;
  return CmdbError("http_" + std::to_string(status),
                   "HTTP " + std::to_string(status) + " with no error list",
                   status);
}

CmdbError ParseRestError(int status, const std::string& body) {
  const std::string http = "http_" + std::to_string(status);
  nlohmann::json doc = nlohmann::json::parse(body, nullptr, false);
  if (auto error = MaybeRestError(status, doc)) return *error;
  std::string excerpt = Excerpt(body);
  return CmdbError(
      http,
      "HTTP " + std::to_string(status) +
          (excerpt.empty() ? " with an empty body" : ": " + excerpt),
      status);
}

namespace {

// What a page says beside its records, checked before anything is taken
// from it; a streamed page's doc holds an empty records array.
void CheckPageFields(const nlohmann::json& doc) {
  auto records = doc.find("records");
  auto done = doc.find("done");
  auto total = doc.find("totalSize");
  if (records == doc.end() || !records->is_array() || done == doc.end() ||
      !done->is_boolean()) {
    throw CmdbError("parse", "query response lacks records or done");
  }
  if (total == doc.end() || !total->is_number_integer()) {
    throw CmdbError("parse", "query response lacks totalSize");
  }
}

// The page of doc, whose fields are checked, with `rows` records.
QueryPage PageOf(const nlohmann::json& doc, size_t rows, bool aggregate) {
  QueryPage page;
  page.total_size = doc["totalSize"].get<int64_t>();
  page.done = doc["done"].get<bool>();
  page.aggregate = aggregate;
  if (page.aggregate && !page.done) {
    throw CmdbError("truncated", "aggregate result was cut at " +
                                     std::to_string(rows) +
                                     " rows (the API returns at most 2,000 "
                                     "groups)");
  }
  if (page.aggregate && rows >= kAggregateRowCap) {
    // With LIMIT 2000 a complete and a cut result look the same; only fewer
    // rows prove that every group is there.
    throw CmdbError("truncated",
                    "aggregate result has " + std::to_string(rows) +
                        " rows, the most the API returns (2,000 groups): "
                        "some groups may be missing");
  }
  if (page.done) return page;
  auto next = doc.find("nextRecordsUrl");
  if (next == doc.end() || !next->is_string()) {
    throw CmdbError("parse",
                    "query response is not done but has no nextRecordsUrl");
  }
  page.next_records_url = next->get<std::string>();
  if (page.next_records_url.rfind("/services/data/", 0) != 0) {
    throw CmdbError("parse", "unexpected nextRecordsUrl " +
                                 page.next_records_url.substr(0, 100));
  }
  return page;
}

std::string NotAnObject(const std::string& body) {
  return "the query response is not a JSON object (" +
         std::to_string(body.size()) + " bytes)";
}

}  // namespace

QueryPage ParseQueryPage(const std::string& body) {
  nlohmann::json doc = nlohmann::json::parse(body, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) {
    throw CmdbError("parse", NotAnObject(body));
  }
  return QueryPageFromJson(std::move(doc));
}

QueryPage ParseQueryPage(const std::string& body, RecordSink& sink) {
  StreamedPage streamed = StreamQueryPage(body, sink);
  if (!streamed.valid || !streamed.doc.is_object()) {
    throw CmdbError("parse", NotAnObject(body));
  }
  CheckPageFields(streamed.doc);
  QueryPage page = PageOf(streamed.doc, streamed.rows, streamed.aggregate);
  page.records = nlohmann::json::array();
  return page;
}

QueryPage QueryPageFromJson(nlohmann::json doc) {
  if (!doc.is_object()) {
    throw CmdbError("parse", "the query response is not a JSON object");
  }
  CheckPageFields(doc);
  nlohmann::json& records = doc["records"];
  QueryPage page = PageOf(doc, records.size(),
                          !records.empty() && IsAggregateRecord(records[0]));
  page.records = std::move(records);
  return page;
}

std::vector<CompositeAnswer> ParseCompositeResponse(const std::string& body,
                                                    size_t n) {
  nlohmann::json doc = nlohmann::json::parse(body, nullptr, false);
  if (!doc.is_object() || !doc.contains("compositeResponse") ||
      !doc["compositeResponse"].is_array()) {
    throw CmdbError("parse",
                    "the composite response has no compositeResponse array (" +
                        std::to_string(body.size()) + " bytes)");
  }
  std::vector<CompositeAnswer> out(n);
  std::vector<bool> answered(n, false);
  for (auto& item : doc["compositeResponse"]) {
    if (!item.is_object()) continue;
    auto ref_it = item.find("referenceId");
    if (ref_it == item.end() || !ref_it->is_string()) continue;
    const std::string& ref = ref_it->get_ref<const std::string&>();
    // The referenceIds sent are q0 to q4.
    if (ref.size() != 2 || ref[0] != 'q' || ref[1] < '0' || ref[1] > '9')
      continue;
    const size_t i = static_cast<size_t>(ref[1] - '0');
    if (i >= n || answered[i]) continue;
    answered[i] = true;
    auto status = item.find("httpStatusCode");
    auto sub_body = item.find("body");
    try {
      if (status == item.end() || !status->is_number_integer()) {
        throw CmdbError(
            "parse", "composite subresponse " + ref + " lacks httpStatusCode");
      }
      const int64_t code = status->get<int64_t>();
      nlohmann::json content =
          sub_body == item.end() ? nlohmann::json() : std::move(*sub_body);
      if (code < 200 || code >= 300) {
        throw RestErrorFromJson(
            static_cast<int>(std::clamp<int64_t>(code, 0, 999)), content);
      }
      out[i].page = QueryPageFromJson(std::move(content));
    } catch (const CmdbError& e) {
      out[i].error = e;
    }
  }
  for (size_t i = 0; i < n; ++i) {
    if (!answered[i]) {
      out[i].error =
          CmdbError("parse", "the composite response has no answer for q" +
                                 std::to_string(i));
    }
  }
  return out;
}

double BudgetStretch(int64_t used, int64_t limit, double min_remaining,
                     double max_stretch) {
  if (limit <= 0 || min_remaining <= 0) return 1;
  const double remaining = std::max(
      0.0, static_cast<double>(limit - used) / static_cast<double>(limit));
  if (remaining >= min_remaining) return 1;
  if (remaining <= 0) return max_stretch;
  return std::clamp(min_remaining / remaining, 1.0, max_stretch);
}

CmdbClient::CmdbClient(const CloudawareConfig& config, TokenSource& tokens,
                       HttpClient& http, SelfMetrics& metrics)
    : CmdbClient(config, tokens, http, metrics, Options{}) {}

CmdbClient::CmdbClient(const CloudawareConfig& config, TokenSource& tokens,
                       HttpClient& http, SelfMetrics& metrics, Options options)
    : api_version_(config.api_version),
      budget_min_remaining_(config.budget_min_remaining),
      budget_max_stretch_(config.budget_max_stretch),
      options_([&] {
        options.max_retries = config.max_retries;
        return options;
      }()),
      tokens_(tokens),
      http_(http),
      metrics_(metrics) {
  // A reload starts over: composite is tried again, the budget re-read.
  metrics_.SetCompositeFallback(false);
  metrics_.SetIntervalStretch(1);
}

bool CmdbClient::stopping() { return http_.stopped(); }

void CmdbClient::CheckPause() {
  std::lock_guard<std::mutex> lock(mu_);
  auto now = Clock::now();
  if (now >= paused_until_) return;
  throw CmdbError(
      "REQUEST_LIMIT_EXCEEDED",
      "not sent: the API answered REQUEST_LIMIT_EXCEEDED; calls resume in " +
          std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                             paused_until_ - now)
                             .count() +
                         1) +
          "s",
      403);
}

std::string CmdbClient::Call(const std::string& endpoint,
                             const std::string& path,
                             const std::string* json_body) {
  thread_local std::mt19937_64 rng(std::random_device{}());
  for (int retry = 0;; ++retry) {
    try {
      return Attempt(endpoint, path, json_body);
    } catch (const CmdbError& e) {
      bool transient =
          e.code() == "network" || e.code() == "timeout" || e.status() >= 500;
      if (!transient || retry >= options_.max_retries) throw;
      // Full jitter: workers that failed together do not retry together.
      const auto ceiling =
          Backoff(options_.min_backoff, options_.max_backoff, retry);
      std::chrono::milliseconds wait(
          std::uniform_int_distribution<int64_t>(0, ceiling.count())(rng));
      LogDebug("retrying API request",
               {{"endpoint", endpoint},
                {"error", e.code()},
                {"retry", std::to_string(retry + 1)},
                {"wait_ms", std::to_string(wait.count())}});
      if (!http_.Wait(wait)) throw;
    }
  }
}

std::string CmdbClient::Attempt(const std::string& endpoint,
                                const std::string& path,
                                const std::string* json_body) {
  for (int attempt = 0;; ++attempt) {
    CheckPause();
    TokenSource::Token token = tokens_.Get();
    auto start = Clock::now();
    HttpResponse res;
    try {
      httplib::Headers headers{
          {"Authorization", "Bearer " + token.access_token},
          {"Accept", "application/json"}};
      res = json_body
                ? http_.PostJson(token.instance, path, headers, *json_body)
                : http_.Get(token.instance, path, headers);
    } catch (const CmdbError& e) {
      if (stopping()) throw;  // aborted by a stop: not the API's doing
      metrics_.ObserveApiRequest(
          endpoint, e.code(),
          std::chrono::duration<double>(Clock::now() - start).count());
      ReportOutcome(metrics_, ApiOutcome::kTransportError);
      throw;
    }
    metrics_.ObserveApiRequest(
        endpoint, std::to_string(res.status),
        std::chrono::duration<double>(Clock::now() - start).count());
    if (auto usage = ParseLimitInfo(res.Header("Sforce-Limit-Info"))) {
      metrics_.SetDailyRequests(usage->first, usage->second);
      UpdateBudget(usage->first, usage->second);
    }
    // Any answer but a 401 (or an edge proxy's 5xx) took the token.
    if (res.status != 401 && res.status < 500) {
      tokens_.Accepted(token.access_token);
    }
    if (res.status >= 200 && res.status < 300) {
      ReportOutcome(metrics_, ApiOutcome::kAnswered);
      return std::move(res.body);
    }
    CmdbError error = ParseRestError(res.status, res.body);
    if (res.status == 401) {
      tokens_.Invalidate(token.access_token);
      // The session ended: the answer counts once the renewed token is tried.
      if (attempt == 0 && IsInvalidSession(error)) continue;
    }
    ReportOutcome(metrics_, AnswerOutcome(res.status, error.code()));
    if (res.status == 401) {
      throw CmdbError(
          "auth",
          "the API refused a new token too: " + std::string(error.what()), 401);
    }
    if (error.code() == "REQUEST_LIMIT_EXCEEDED") {
      std::lock_guard<std::mutex> lock(mu_);
      if (Clock::now() >= paused_until_) {
        LogWarn("pausing API calls",
                {{"err", error.what()},
                 {"pause",
                  std::to_string(options_.limit_pause.count() / 1000) + "s"},
                 {"hint",
                  "the org's daily API allocation or its concurrency limit is "
                  "spent; other integrations may share it"}});
      }
      paused_until_ = Clock::now() + options_.limit_pause;
    }
    throw error;
  }
}

namespace {

// Reads a page, its records to sink, counting a body that is not a query
// result against the API.
QueryPage ReadPage(const std::string& body, RecordSink& sink,
                   SelfMetrics& metrics) {
  try {
    return ParseQueryPage(body, sink);
  } catch (const CmdbError& e) {
    // A result cut short ("truncated") is a readable answer to a query too
    // big; only a body that is no query page at all counts against the API.
    if (e.code() == "parse") ReportOutcome(metrics, ApiOutcome::kUnparseable);
    throw;
  }
}

// A refusal of /composite as such, rather than of this call: the org or the
// API version does not offer it, or rejects the request's form.
bool RefusesComposite(const CmdbError& e) {
  return e.status() >= 400 && e.status() < 500 && e.status() != 401 &&
         e.code() != "REQUEST_LIMIT_EXCEEDED";
}

}  // namespace

QueryResult CmdbClient::Query(const std::string& soql) {
  QueryResult result;
  CollectingSink sink(result.records);
  QueryResult rest = Query(soql, sink);
  result.total_size = rest.total_size;
  result.done = rest.done;
  return result;
}

QueryResult CmdbClient::Query(const std::string& soql, RecordSink& sink) {
  std::string path =
      "/services/data/v" + api_version_ + "/query?q=" + UrlEncode(soql);
  return FollowPages(ReadPage(Call("query", path), sink, metrics_), sink);
}

nlohmann::json CmdbClient::Describe(const std::string& object) {
  const std::string body =
      Call("describe", "/services/data/v" + api_version_ + "/sobjects/" +
                           UrlEncode(object) + "/describe");
  nlohmann::json doc = nlohmann::json::parse(body, nullptr, false);
  if (!doc.is_object()) {
    throw CmdbError("parse", "the describe response for " + object +
                                 " is not a JSON object");
  }
  return doc;
}

std::vector<std::string> CmdbClient::DescribeGlobal() {
  const std::string body =
      Call("sobjects", "/services/data/v" + api_version_ + "/sobjects/");
  nlohmann::json doc = nlohmann::json::parse(body, nullptr, false);
  auto list = doc.is_object() ? doc.find("sobjects") : doc.end();
  if (!doc.is_object() || list == doc.end() || !list->is_array()) {
    throw CmdbError("parse", "the describe global response has no sobjects");
  }
  std::vector<std::string> names;
  for (const auto& o : *list) {
    if (o.is_object() && o.contains("name") && o["name"].is_string())
      names.push_back(o["name"].get<std::string>());
  }
  return names;
}

QueryResult CmdbClient::FollowPages(QueryPage page, RecordSink& sink) {
  // A composite answer's first page comes parsed whole; later pages are
  // streamed into the sink, and page.records stays empty.
  for (auto& r : page.records) {
    if (!page.aggregate) DropAttributes(r);
    sink.Add(std::move(r));
  }
  page.records = nlohmann::json();
  QueryResult out;
  out.total_size = page.total_size;
  for (int pages = 1;; ++pages) {
    out.done = page.done;
    if (out.done) return out;
    if (pages >= kMaxPages) {
      throw CmdbError("truncated", "query result has more than " +
                                       std::to_string(kMaxPages) +
                                       " pages; add a LIMIT or aggregate it");
    }
    page = ReadPage(Call("query_more", page.next_records_url), sink, metrics_);
  }
}

std::vector<QueryOutcome> CmdbClient::QueryBatch(
    const std::vector<std::string>& soqls,
    const std::vector<RecordSink*>& sinks) {
  if (sinks.size() != soqls.size()) {
    throw std::invalid_argument("QueryBatch: one sink per query");
  }
  std::vector<QueryOutcome> out(soqls.size());
  auto one_by_one = [&] {
    for (size_t i = 0; i < soqls.size(); ++i) {
      try {
        out[i].result = Query(soqls[i], *sinks[i]);
      } catch (const CmdbError& e) {
        out[i].error = e;
      }
    }
  };
  bool refused;
  {
    std::lock_guard<std::mutex> lock(mu_);
    refused = composite_refused_;
  }
  // One query costs one call either way; a plain GET is the simpler one.
  if (refused || soqls.size() < 2) {
    one_by_one();
    return out;
  }
  if (soqls.size() > kCompositeMaxQueries) {
    throw std::invalid_argument("QueryBatch: more than 5 queries");
  }

  const std::string prefix = "/services/data/v" + api_version_;
  nlohmann::json requests = nlohmann::json::array();
  for (size_t i = 0; i < soqls.size(); ++i) {
    requests.push_back({{"method", "GET"},
                        {"url", prefix + "/query?q=" + UrlEncode(soqls[i])},
                        {"referenceId", "q" + std::to_string(i)}});
  }
  const std::string body = nlohmann::json{
      {"allOrNone", false},
      {"compositeRequest",
       requests}}.dump();
  std::string response;
  try {
    response = Call("composite", prefix + "/composite", &body);
  } catch (const CmdbError& e) {
    if (!RefusesComposite(e)) {
      for (auto& o : out) o.error = e;
      return out;
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!composite_refused_) {
        LogWarn("composite requests refused, sending queries one by one",
                {{"err", e.what()},
                 {"hint",
                  "each query now costs one API call; set batching: none to "
                  "silence this"}});
      }
      composite_refused_ = true;
    }
    metrics_.SetCompositeFallback(true);
    one_by_one();
    return out;
  }

  std::vector<CompositeAnswer> answers;
  try {
    answers = ParseCompositeResponse(response, soqls.size());
  } catch (const CmdbError& e) {
    ReportOutcome(metrics_, ApiOutcome::kUnparseable);
    for (auto& o : out) o.error = e;
    return out;
  }
  for (size_t i = 0; i < soqls.size(); ++i) {
    if (answers[i].error) {
      // As for a single query: a body that is not a query page means the
      // API is not working.
      ReportOutcome(metrics_, answers[i].error->code() == "parse"
                                  ? ApiOutcome::kUnparseable
                                  : ApiOutcome::kSubrequestError);
      out[i].error = std::move(answers[i].error);
      continue;
    }
    try {
      out[i].result = FollowPages(std::move(*answers[i].page), *sinks[i]);
    } catch (const CmdbError& e) {
      out[i].error = e;
    }
  }
  return out;
}

double CmdbClient::IntervalStretch() {
  std::lock_guard<std::mutex> lock(mu_);
  return stretch_;
}

ApiBudget CmdbClient::Budget() {
  std::lock_guard<std::mutex> lock(mu_);
  ApiBudget budget;
  if (usage_) {
    budget.daily_used = usage_->first;
    budget.daily_limit = usage_->second;
  }
  budget.interval_stretch = stretch_;
  budget.composite_refused = composite_refused_;
  const auto now = Clock::now();
  if (paused_until_ > now) {
    budget.paused_until =
        std::chrono::system_clock::now() +
        std::chrono::duration_cast<std::chrono::system_clock::duration>(
            paused_until_ - now);
  }
  return budget;
}

void CmdbClient::UpdateBudget(int64_t used, int64_t limit) {
  const double stretch =
      BudgetStretch(used, limit, budget_min_remaining_, budget_max_stretch_);
  std::lock_guard<std::mutex> lock(mu_);
  const bool was = stretch_ > 1, is = stretch > 1;
  stretch_ = stretch;
  // Under the lock, so that answers arriving together leave the gauge and
  // /status with the same figure.
  metrics_.SetIntervalStretch(stretch);
  usage_.emplace(used, limit);
  if (was == is) return;
  const std::string usage = std::to_string(used) + "/" + std::to_string(limit);
  if (is) {
    LogWarn("stretching query intervals to save the daily API allocation",
            {{"api_usage", usage},
             {"stretch", Fixed(stretch)},
             {"min_remaining", Fixed(budget_min_remaining_)}});
  } else {
    LogInfo("query intervals back to normal", {{"api_usage", usage}});
  }
}

}  // namespace cloudaware_exporter
