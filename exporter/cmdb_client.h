// Runs SOQL queries against the CMDB REST API: one call per query, plus one
// per nextRecordsUrl page of a non-aggregate result. Authenticates through
// TokenSource, renewing the token once after a 401 INVALID_SESSION_ID.
// Thread-safe: the poller's workers call Query() concurrently; Stop() may be
// called from any thread and aborts requests in flight.
#ifndef CLOUDAWARE_EXPORTER_CMDB_CLIENT_H_
#define CLOUDAWARE_EXPORTER_CMDB_CLIENT_H_

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace cloudaware_exporter {

// A query's result as the API returned it (all pages joined).
struct QueryResult {
  int64_t total_size = 0;
  bool done = true;
  std::vector<nlohmann::json> records;
};

// Why a query failed. code is what cloudaware_query_errors_total's `error`
// label shows: the API errorCode (MALFORMED_QUERY, INVALID_FIELD, ...), or
// network, timeout, parse, http_<status>, truncated, auth.
class CmdbError : public std::runtime_error {
 public:
  CmdbError(std::string code, const std::string& message, int status = 0)
      : std::runtime_error(message), code_(std::move(code)), status_(status) {}
  const std::string& code() const { return code_; }
  int status() const { return status_; }

 private:
  std::string code_;
  int status_;
};

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

class CmdbClient {
 public:
  CmdbClient(const CloudawareConfig& config, TokenSource& tokens,
             HttpClient& http, SelfMetrics& metrics);

  // Runs one query. Non-aggregate results are followed through
  // nextRecordsUrl; an aggregate result that is not done throws "truncated".
  QueryResult Query(const std::string& soql);

 private:
  // One authenticated GET, with the token renewed once after a 401.
  nlohmann::json Call(const std::string& endpoint, const std::string& path);

  const std::string api_version_;
  TokenSource& tokens_;
  HttpClient& http_;
  SelfMetrics& metrics_;
};

}  // namespace cloudaware_exporter

#endif  // CLOUDAWARE_EXPORTER_CMDB_CLIENT_H_
