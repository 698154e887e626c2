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
#include <functional>
#include <mutex>
#include <optional>
#include <string>

#include "exporter/cmdb_client.h"
#include "exporter/config.h"
#include "exporter/http_client.h"
#include "exporter/self_metrics.h"

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
  // The API answered 401 to this token: forget it, unless another caller
  // already replaced it.
  void Invalidate(const std::string& access_token);
  // Uses a new client secret from the next token request on (rotation).
  void SetSecret(Secret secret);

 private:
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
  std::chrono::steady_clock::time_point obtained_at_{};
};

}  // namespace cloudaware_exporter

#endif  // CLOUDAWARE_EXPORTER_TOKEN_SOURCE_H_
