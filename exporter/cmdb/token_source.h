// The OAuth 2.0 client-credentials token for the CMDB API: requested from
// <url>/services/oauth2/token, cached, shared by every query, and renewed
// only when the API refuses it (Salesforce sends no expiry). Thread-safe:
// concurrent callers share one token request (single flight), and after a
// failure further requests wait out a growing backoff, so the token endpoint
// sees at most a few requests per minute whatever happens.
#ifndef CLOUDAWARE_EXPORTER_TOKEN_SOURCE_H_
#define CLOUDAWARE_EXPORTER_TOKEN_SOURCE_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>

#include "exporter/base/file_util.h"
#include "exporter/cmdb/api_error.h"
#include "exporter/cmdb/api_status.h"
#include "exporter/cmdb/http_client.h"
#include "exporter/config/config.h"
#include "exporter/metrics/self_metrics.h"

namespace cloudaware_exporter {

// What to do about a token endpoint error, from the set-up steps of the
// External Client App. Empty when there is nothing specific to say.
std::string OAuthHint(const std::string& error, const std::string& description);

class TokenSource {
 public:
  struct Options {
    // Wait after the first failed token request, doubled after each further
    // failure up to max_backoff.
    std::chrono::milliseconds min_backoff{std::chrono::seconds(15)};
    std::chrono::milliseconds max_backoff{std::chrono::minutes(5)};
    // A hard cap on token requests in any 60 s, whatever the API answers.
    int max_requests_per_minute = 6;
    // The window of that cap: a minute, but for tests.
    std::chrono::milliseconds request_window{std::chrono::minutes(1)};
  };

  struct Token {
    std::string access_token;
    Url instance;  // instance_url from the token response: all REST calls go
                   // here
  };

  TokenSource(const CloudawareConfig& config, HttpClient& http,
              SelfMetrics& metrics);
  TokenSource(const CloudawareConfig& config, HttpClient& http,
              SelfMetrics& metrics, Options options);
  ~TokenSource();

  // The cached token, or a new one. Throws CmdbError with code "auth" when
  // the token endpoint refused, failed, or is in backoff after a failure.
  Token Get();
  // The API answered a request made with this token. From then on a 401
  // for it means that its session ended (expired or revoked, however
  // young), and Invalidate() renews it at once.
  void Accepted(const std::string& access_token);
  // The API answered 401 to this token: forget it, unless another caller
  // already replaced it. A token refused on its first use is refused as
  // such: the next request waits out the backoff.
  void Invalidate(const std::string& access_token);
  // Thread-safe; never waits for a token request in flight.
  TokenStatus Status();

 private:
  // When client_secret_file has changed since it was last read, takes the
  // new secret and ends any backoff (rotation without a restart).
  void ReloadSecretLocked();
  Token Request(const Secret& secret);
  void Fail(const std::string& result, const std::string& message,
            const std::string& hint);

  const CloudawareConfig config_;
  const Url token_url_;
  HttpClient& http_;
  SelfMetrics& metrics_;
  const Options options_;

  std::mutex mu_;
  std::condition_variable cv_;
  Secret secret_;
  std::optional<Token> token_;
  bool fetching_ = false;
  std::string last_error_;   // message of the last failure, while in backoff
  std::string last_logged_;  // the last result logged, to log once per change
  int failures_ = 0;
  std::chrono::steady_clock::time_point retry_at_{};
  bool accepted_ = false;  // the API has answered a request with token_
  std::optional<std::chrono::system_clock::time_point> obtained_wall_;
  std::optional<TokenFailure> last_failure_;
  std::chrono::system_clock::time_point last_failure_wall_{};
  uint64_t requests_ = 0;
  std::deque<std::chrono::steady_clock::time_point> recent_requests_;
  bool rate_limited_ = false;  // logged once per episode
  bool secret_file_unreadable_ = false;
  FileStamp secret_file_stamp_;  // when the secret file was last read
};

// Reads the token endpoint's answer: the token, or throws TokenFailure.
// where names the endpoint in messages.
TokenSource::Token ParseTokenResponse(int status, const std::string& body,
                                      const std::string& where);

}  // namespace cloudaware_exporter

#endif  // CLOUDAWARE_EXPORTER_TOKEN_SOURCE_H_
