#include "exporter/cmdb/token_source.h"

#include <openssl/evp.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>

#include "exporter/base/backoff.h"
#include "exporter/base/file_util.h"
#include "exporter/base/log.h"
#include "exporter/cmdb/api_outcome.h"

namespace cloudaware_exporter {
namespace {

using Clock = std::chrono::steady_clock;

// The OAuth error codes Salesforce documents for the token endpoint
// ("OAuth 2.0 Authorization Errors"). Anything else is reported by HTTP
// status, so a misbehaving server cannot blow up the label's cardinality.
const std::set<std::string>& KnownOAuthErrors() {
  static const std::set<std::string> kCodes = {
      "invalid_grant",       "invalid_client",
      "invalid_client_id",   "unsupported_grant_type",
      "inactive_user",       "inactive_org",
      "rate_limit_exceeded", "invalid_request",
      "invalid_scope",       "unsupported_response_type"};
  return kCodes;
}

std::string Base64(const std::string& in) {
  std::string out(4 * ((in.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(in.data()),
                          static_cast<int>(in.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

double UnixNow() {
  return std::chrono::duration<double>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

std::string OAuthHint(const std::string& error,
                      const std::string& description) {
  if (error == "invalid_grant") {
    if (description == "request not supported on this domain") {
      return "cloudaware.url must be the org's My Domain URL (Setup > My "
             "Domain, e.g. "
             "https://acme.my.salesforce.com); login.salesforce.com and "
             "test.salesforce.com do not support the client credentials flow";
    }
    if (description == "no client credentials user enabled") {
      return "set the Run As user in the External Client App: Policies > OAuth "
             "Policies > "
             "Client Credentials Flow > Run As (a username, not an email "
             "address)";
    }
    if (description == "user hasn't approved this consumer") {
      return "let the Run As user use the app: in its OAuth Policies set "
             "Permitted Users "
             "and add the user's profile or permission set";
    }
    return "the Run As user cannot sign in: check that it is active, has the "
           "API Enabled "
           "(and API Only) permission, and is not blocked by IP ranges or "
           "login hours";
  }
  if (error == "invalid_client") {
    return "the client secret is wrong or belongs to another app: copy the "
           "Consumer Secret "
           "again from the app's Settings > OAuth Settings";
  }
  if (error == "invalid_client_id") {
    return "the client id (Consumer Key) is unknown: copy it again from the "
           "app's OAuth "
           "Settings; a new or changed app takes a few minutes to apply";
  }
  if (error == "unsupported_grant_type") {
    return "enable the Client Credentials Flow in the app's OAuth settings "
           "(Flow "
           "Enablement) and in its OAuth Policies";
  }
  if (error == "inactive_user")
    return "the Run As user is inactive: reactivate it or choose another";
  if (error == "inactive_org") return "the org is locked, closed or suspended";
  if (error == "rate_limit_exceeded") {
    return "too many logins for the Run As user (Salesforce allows 3,600 an "
           "hour); another "
           "integration may share the user";
  }
  if (error == "invalid_scope")
    return "the app's OAuth scopes must include api";
  return "";
}

TokenSource::TokenSource(const CloudawareConfig& config, HttpClient& http,
                         SelfMetrics& metrics)
    : TokenSource(config, http, metrics, Options{}) {}

TokenSource::TokenSource(const CloudawareConfig& config, HttpClient& http,
                         SelfMetrics& metrics, Options options)
    : config_(config),
      token_url_(ParseUrl(config.url).value_or(Url{})),
      http_(http),
      metrics_(metrics),
      options_(options),
      secret_(config.client_secret),
      secret_file_stamp_(FileStamp::Of(config.client_secret_file)) {
  Redact(secret_.Reveal());
}

TokenSource::~TokenSource() {
  std::lock_guard<std::mutex> lock(mu_);
  if (token_) Unredact(token_->access_token);
}

void TokenSource::ReloadSecretLocked() {
  const std::string& path = config_.client_secret_file;
  if (path.empty()) return;
  FileStamp stamp = FileStamp::Of(path);
  if (stamp == secret_file_stamp_) return;
  std::string content;
  if (!stamp.exists || ReadSecretFile(path, &content)) {
    // Mid-rotation, the file may be briefly missing or empty: keep the
    // secret in use and look again next time.
    if (!std::exchange(secret_file_unreadable_, true)) {
      LogWarn("cannot read the client secret file; keeping the current secret",
              {{"file", path}});
    }
    return;
  }
  secret_file_unreadable_ = false;
  secret_file_stamp_ = stamp;
  if (content == secret_.Reveal()) return;
  Redact(content);
  secret_ = Secret(std::move(content));
  // A new secret deserves a prompt try, not the backoff of the old one.
  failures_ = 0;
  retry_at_ = {};
  LogInfo("client secret file changed; using the new secret", {{"file", path}});
}

TokenSource::Token TokenSource::Get() {
  std::unique_lock<std::mutex> lock(mu_);
  // Single flight: wait for a request already under way rather than send one.
  while (!token_ && fetching_) cv_.wait(lock);
  if (token_) return *token_;
  ReloadSecretLocked();
  auto now = Clock::now();
  if (now < retry_at_) {
    auto wait =
        std::chrono::duration_cast<std::chrono::seconds>(retry_at_ - now)
            .count() +
        1;
    throw CmdbError("auth", last_error_ + " (next token request in " +
                                std::to_string(wait) + "s)");
  }
  while (!recent_requests_.empty() &&
         now - recent_requests_.front() >= options_.request_window) {
    recent_requests_.pop_front();
  }
  if (recent_requests_.size() >=
      static_cast<size_t>(options_.max_requests_per_minute)) {
    auto wait = std::chrono::duration_cast<std::chrono::seconds>(
                    recent_requests_.front() + options_.request_window - now)
                    .count() +
                1;
    if (!std::exchange(rate_limited_, true)) {
      LogWarn("holding back token requests",
              {{"limit",
                std::to_string(options_.max_requests_per_minute) + " a minute"},
               {"hint",
                "the API keeps refusing new tokens: check the Run As user's "
                "session policies (timeout, IP restrictions)"}});
    }
    throw CmdbError("auth",
                    "token requests are limited to " +
                        std::to_string(options_.max_requests_per_minute) +
                        " a minute (next in " + std::to_string(wait) + "s)");
  }
  rate_limited_ = false;
  recent_requests_.push_back(now);
  ++requests_;
  fetching_ = true;
  Secret secret = secret_;
  lock.unlock();

  std::optional<Token> token;
  TokenFailure failure;
  try {
    token = Request(secret);
  } catch (const TokenFailure& f) {
    failure = f;
  }

  lock.lock();
  fetching_ = false;
  cv_.notify_all();
  if (!token) {
    // Aborted by a stop or a reload: nothing to report about the API.
    if (http_.stopped()) {
      throw CmdbError("network", "the exporter is shutting down");
    }
    Fail(failure.result, failure.message, failure.hint);
    throw CmdbError("auth", failure.message);
  }
  token_ = *token;
  accepted_ = false;
  obtained_wall_ = std::chrono::system_clock::now();
  Redact(token_->access_token);
  failures_ = 0;
  retry_at_ = {};
  metrics_.SetTokenValid(true);
  if (last_logged_ != "success") {
    LogInfo("obtained an access token",
            {{"url", token_url_.Base()},
             {"instance_url", token_->instance.Base()}});
    last_logged_ = "success";
  }
  return *token_;
}

void TokenSource::Accepted(const std::string& access_token) {
  std::lock_guard<std::mutex> lock(mu_);
  if (token_ && token_->access_token == access_token) accepted_ = true;
}

void TokenSource::Invalidate(const std::string& access_token) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!token_ || token_->access_token != access_token) return;
  Unredact(token_->access_token);
  token_.reset();
  metrics_.SetTokenValid(false);
  if (std::exchange(accepted_, false)) {
    LogDebug("the API ended the token's session; renewing it", {});
    return;
  }
  // A token refused on its first use will be refused again (a policy or
  // host problem, not expiry): back off instead of asking anew for every
  // query.
  Fail("refused",
       "the API refused a token obtained moments ago (401 INVALID_SESSION_ID)",
       "check that the Run As user may use the REST API and that instance_url "
       "is reachable");
}

TokenStatus TokenSource::Status() {
  std::lock_guard<std::mutex> lock(mu_);
  const auto now = Clock::now();
  const auto wall_now = std::chrono::system_clock::now();
  TokenStatus status;
  status.held = token_.has_value();
  status.obtained = obtained_wall_;
  status.last_failure = last_failure_;
  if (last_failure_) status.last_failure_time = last_failure_wall_;
  status.requests = requests_;
  if (!token_) {
    Clock::time_point until = retry_at_;
    const size_t cap = static_cast<size_t>(options_.max_requests_per_minute);
    // The oldest request that still counts against the cap.
    if (recent_requests_.size() >= cap && cap > 0) {
      until = std::max(until, recent_requests_[recent_requests_.size() - cap] +
                                  options_.request_window);
    }
    if (until > now) {
      status.backoff_until =
          wall_now +
          std::chrono::duration_cast<std::chrono::system_clock::duration>(
              until - now);
    }
  }
  return status;
}

void TokenSource::Fail(const std::string& result, const std::string& message,
                       const std::string& hint) {
  metrics_.SetTokenValid(false);
  ReportOutcome(metrics_, TokenFailureOutcome(result));
  ++failures_;
  retry_at_ = Clock::now() + Backoff(options_.min_backoff, options_.max_backoff,
                                     failures_ - 1);
  last_error_ = message;
  last_failure_ = TokenFailure{result, message, hint};
  last_failure_wall_ = std::chrono::system_clock::now();
  if (last_logged_ != result) {
    LogError("token request failed",
             {{"url", token_url_.Base() + "/services/oauth2/token"},
              {"result", result},
              {"err", message},
              {"hint", hint}});
    last_logged_ = result;
  }
}

TokenSource::Token TokenSource::Request(const Secret& secret) {
  std::string body = "grant_type=client_credentials";
  httplib::Headers headers = {{"Accept", "application/json"}};
  if (config_.client_auth == ClientAuth::kBasic) {
    headers.emplace("Authorization", "Basic " + Base64(config_.client_id + ":" +
                                                       secret.Reveal()));
  } else {
    body += "&client_id=" + UrlEncode(config_.client_id) +
            "&client_secret=" + UrlEncode(secret.Reveal());
  }
  const std::string where = token_url_.Base() + "/services/oauth2/token";
  auto start = Clock::now();
  HttpResponse res;
  try {
    res = http_.PostForm(token_url_, "/services/oauth2/token", headers, body);
  } catch (const CmdbError& e) {
    if (http_.stopped()) throw TokenFailure{"network", e.what(), ""};
    double secs = std::chrono::duration<double>(Clock::now() - start).count();
    metrics_.ObserveApiRequest("token", e.code(), secs);
    metrics_.CountTokenRequest("network", UnixNow());
    throw TokenFailure{
        "network", "token request to " + where + " failed: " + e.what(),
        "check that the exporter can reach " + token_url_.Base()};
  }
  double secs = std::chrono::duration<double>(Clock::now() - start).count();
  metrics_.ObserveApiRequest("token", std::to_string(res.status), secs);

  Token token;
  try {
    token = ParseTokenResponse(res.status, res.body, where);
  } catch (const TokenFailure& f) {
    metrics_.CountTokenRequest(f.result, UnixNow());
    throw;
  }
  metrics_.CountTokenRequest("success", UnixNow());
  ReportOutcome(metrics_, ApiOutcome::kTokenObtained);
  return token;
}

TokenSource::Token ParseTokenResponse(int status, const std::string& body,
                                      const std::string& where) {
  nlohmann::json doc = nlohmann::json::parse(body, nullptr, false);
  if (status != 200) {
    std::string result = "http_" + std::to_string(status);
    std::string error, description;
    if (doc.is_object() && doc.contains("error") && doc["error"].is_string()) {
      error = doc["error"].get<std::string>();
      if (doc.contains("error_description") &&
          doc["error_description"].is_string()) {
        description = doc["error_description"].get<std::string>();
      }
      if (KnownOAuthErrors().count(error)) result = error;
    }
    std::string message =
        "token request to " + where + " failed: HTTP " + std::to_string(status);
    if (!error.empty()) message += ": " + error.substr(0, 64);
    if (!description.empty())
      message += " (" + description.substr(0, 200) + ")";
    std::string hint = OAuthHint(error, description);
    if (hint.empty() && status >= 500)
      hint = "the token endpoint is failing; it is retried";
    throw TokenFailure{result, message, hint};
  }
  auto field = [&](const char* name) -> std::string {
    if (!doc.is_object() || !doc.contains(name) || !doc[name].is_string())
      return "";
    return doc[name].get<std::string>();
  };
  std::string access_token = field("access_token");
  auto instance = ParseUrl(field("instance_url"));
  if (access_token.empty() || !instance) {
    throw TokenFailure{"parse",
                       "token response from " + where +
                           " lacks access_token or a valid instance_url",
                       "the URL may not point at a Salesforce org"};
  }
  return TokenSource::Token{access_token, *instance};
}

}  // namespace cloudaware_exporter
