#include "exporter/web/web.h"

#include <algorithm>
#include <chrono>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <utility>

#include "exporter/base/gzip.h"
#include "exporter/base/log.h"
#include "exporter/web/tls_server_context.h"

namespace cloudaware_exporter {
namespace {

constexpr char kMetricsContentType[] =
    "text/plain; version=0.0.4; charset=utf-8";
constexpr char kTextContentType[] = "text/plain; charset=utf-8";
constexpr char kHtmlContentType[] = "text/html; charset=utf-8";
constexpr char kJsonContentType[] = "application/json";

// At most one line about failed logins per this period, so that a flood of
// bad passwords cannot flood the log as well.
constexpr auto kAuthLogPeriod = std::chrono::seconds(10);
constexpr char kAuthenticate[] = "Basic realm=\"cloudaware_exporter\"";

struct HostPort {
  std::string host;
  int port = 0;
};

// "HOST:PORT", "[V6]:PORT" or ":PORT"; an empty host means all interfaces.
std::optional<HostPort> ParseListenAddress(const std::string& address) {
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos) return std::nullopt;
  HostPort result;
  result.host = address.substr(0, colon);
  if (result.host.size() >= 2 && result.host.front() == '[' &&
      result.host.back() == ']') {
    result.host = result.host.substr(1, result.host.size() - 2);
  }
  if (result.host.empty()) result.host = "0.0.0.0";
  const std::string port = address.substr(colon + 1);
  if (port.empty() || port.size() > 5 ||
      !std::all_of(port.begin(), port.end(),
                   [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  result.port = std::stoi(port);
  if (result.port > 65535) return std::nullopt;
  return result;
}

WebResponse Text(int status, std::string body) {
  WebResponse res;
  res.status = status;
  res.SetHeader("Content-Type", kTextContentType);
  res.SetBody(std::move(body));
  return res;
}

bool IsGet(const WebRequest& req) {
  return req.method == "GET" || req.method == "HEAD";
}

WebResponse MethodNotAllowed(const char* allow) {
  WebResponse res = Text(405, "Method not allowed\n");
  res.SetHeader("Allow", allow);
  return res;
}

WebResponse Content(std::string body, const char* type) {
  WebResponse res;
  res.SetHeader("Content-Type", type);
  res.SetBody(std::move(body));
  return res;
}

const char* AuthFailure(BasicAuth::Result result) {
  switch (result) {
    case BasicAuth::Result::kMalformed:
      return "malformed Authorization header";
    case BasicAuth::Result::kDenied:
      return "unknown user or wrong password";
    case BasicAuth::Result::kBusy:
      return "too many password checks at once";
    default:
      return "no credentials";
  }
}

}  // namespace

void CheckWebConfig(const WebConfig& config) {
  if (config.tls) TlsServerContext check(*config.tls);
}

class WebServer::Impl {
 public:
  Impl(WebOptions options, WebHandlers handlers)
      : options_(std::move(options)),
        handlers_(std::move(handlers)),
        auth_(options_.web_config ? options_.web_config->basic_auth_users
                                  : std::map<std::string, Secret>{}) {
    if (options_.web_config) {
      web_config_ = std::make_shared<const WebConfig>(*options_.web_config);
    }
  }

  ~Impl() { Stop(); }

  void Start() {
    if (server_) return;
    const std::string& address = options_.listen_address;
    const std::optional<HostPort> host_port = ParseListenAddress(address);
    if (!host_port) {
      throw std::runtime_error("cannot listen on " + address +
                               ": want HOST:PORT");
    }
    std::shared_ptr<const WebConfig> web = CurrentWebConfig();
    if (web && web->tls && !tls_) {
      tls_ = std::make_unique<TlsServerContext>(*web->tls);
    }
    auto server = std::make_unique<HttpServer>(
        options_.limits,
        [this](const WebRequest& req) { return Dispatch(req); }, tls_.get());
    server->Start(host_port->host, host_port->port, address);
    server_ = std::move(server);
    if (web) {
      const bool tls = web->tls.has_value();
      const bool auth = !web->basic_auth_users.empty();
      LogInfo("web config in effect",
              {{"file", web->file},
               {"tls", tls ? "true" : "false"},
               {"basic_auth", auth ? "true" : "false"}});
      if (!tls && !auth) {
        LogWarn(
            "the web config turns on neither TLS nor basic auth; anyone who "
            "can reach the port can read the metrics",
            {{"file", web->file}});
      }
    }
  }

  void Stop() {
    if (server_) server_->Stop();
  }

  int port() const { return server_ ? server_->port() : 0; }

  size_t connections() const { return server_ ? server_->connections() : 0; }

  std::string ReloadAll() {
    // Two reloads at once would otherwise race inside the reload.
    std::lock_guard<std::mutex> lock(reload_mu_);
    const std::string error = handlers_.reload();
    const std::string web_error = ReloadWebConfig();
    std::string errors;
    if (!error.empty()) errors += "failed to reload config: " + error + "\n";
    if (!web_error.empty()) {
      errors += "failed to reload web config: " + web_error + "\n";
    }
    return errors;
  }

  std::string ReloadWebConfig() {
    std::lock_guard<std::mutex> lock(web_reload_mu_);
    std::shared_ptr<const WebConfig> current = CurrentWebConfig();
    if (!current || current->file.empty()) return "";
    try {
      WebConfig next = LoadWebConfig(current->file);
      // The listener is either plain or TLS from start to end.
      if (next.tls.has_value() != current->tls.has_value()) {
        throw WebConfigError(current->file +
                             ": tls_server_config: turning TLS on or off "
                             "needs a restart");
      }
      if (tls_ && next.tls) tls_->Update(*next.tls);
      // Unchanged users keep the cache, so scrapers need no new bcrypt.
      if (next.basic_auth_users != current->basic_auth_users) {
        auth_.SetUsers(next.basic_auth_users);
      }
      const size_t users = next.basic_auth_users.size();
      {
        std::lock_guard<std::mutex> guard(web_mu_);
        web_config_ = std::make_shared<const WebConfig>(std::move(next));
      }
      // A client authenticated by a certificate or a TLS version that the
      // new file refuses must not keep its kept-alive connection.
      if (server_) server_->CloseConnections();
      LogInfo("web config reloaded",
              {{"file", current->file}, {"users", std::to_string(users)}});
      return "";
    } catch (const WebConfigError& e) {
      LogError("web config reload failed, keeping the current one",
               {{"err", e.what()}});
      return e.what();
    }
  }

  BasicAuth::Stats auth_stats() const { return auth_.stats(); }

 private:
  std::shared_ptr<const WebConfig> CurrentWebConfig() const {
    std::lock_guard<std::mutex> lock(web_mu_);
    return web_config_;
  }

  // The web config's headers on every answer, the route's own after them.
  WebResponse Dispatch(const WebRequest& req) {
    WebResponse res = Route(req);
    WebResponse out;
    out.status = res.status;
    out.body = std::move(res.body);
    out.SetHeader("X-Content-Type-Options", "nosniff");
    if (std::shared_ptr<const WebConfig> web = CurrentWebConfig()) {
      for (const auto& [name, value] : web->headers) out.SetHeader(name, value);
    }
    for (auto& [name, value] : res.headers) out.SetHeader(name, value);
    return out;
  }

  WebResponse Route(const WebRequest& req) {
    if (std::optional<WebResponse> denied = Authorize(req)) return *denied;
    const std::string& path = req.path;
    if (path == options_.telemetry_path) {
      if (!IsGet(req)) return MethodNotAllowed("GET, HEAD");
      return ServeMetrics(req);
    }
    if (path == "/") {
      if (!IsGet(req)) return MethodNotAllowed("GET, HEAD");
      return Content(handlers_.landing_page(), kHtmlContentType);
    }
    if (path == "/status" && handlers_.status) {
      if (!IsGet(req)) return MethodNotAllowed("GET, HEAD");
      return Content(handlers_.status(), kJsonContentType);
    }
    if (path == "/-/healthy") {
      if (!IsGet(req)) return MethodNotAllowed("GET, HEAD");
      return Text(200, "Healthy\n");
    }
    if (path == "/-/ready") {
      if (!IsGet(req)) return MethodNotAllowed("GET, HEAD");
      if (handlers_.ready()) return Text(200, "Ready\n");
      return Text(503, "Not ready\n");
    }
    if (path == "/-/reload") {
      if (req.method != "POST" && req.method != "PUT") {
        return MethodNotAllowed("POST, PUT");
      }
      return Reload();
    }
    return Text(404, "Not found\n");
  }

  // A 401 unless the request may go on.
  std::optional<WebResponse> Authorize(const WebRequest& req) {
    if (!auth_.enabled()) return std::nullopt;
    // Two Authorization headers would leave it open which one counts.
    const BasicAuth::Result result =
        req.HeaderCount("Authorization") > 1
            ? BasicAuth::Result::kMalformed
            : auth_.Check(req.Header("Authorization"));
    if (result == BasicAuth::Result::kOk) return std::nullopt;
    if (result != BasicAuth::Result::kMissing) LogAuthFailure(req, result);
    // The same answer whatever went wrong, so that it tells nothing about
    // which users exist.
    WebResponse res = Text(401, "Unauthorized\n");
    res.SetHeader("WWW-Authenticate", kAuthenticate);
    return res;
  }

  // Neither the user name nor the password is logged: either may be a
  // password typed into the wrong field. `suppressed` counts the failures
  // left out since the previous line.
  void LogAuthFailure(const WebRequest& req, BasicAuth::Result result) {
    const auto now = std::chrono::steady_clock::now();
    uint64_t suppressed;
    {
      std::lock_guard<std::mutex> lock(auth_log_mu_);
      if (last_auth_log_ && now - *last_auth_log_ < kAuthLogPeriod) {
        ++auth_log_suppressed_;
        return;
      }
      last_auth_log_ = now;
      suppressed = auth_log_suppressed_;
      auth_log_suppressed_ = 0;
    }
    LogDebug("basic auth failed", {{"remote_addr", req.remote_addr},
                                   {"path", req.path},
                                   {"reason", AuthFailure(result)},
                                   {"suppressed", std::to_string(suppressed)}});
  }

  // The chunks are shared with the collector's snapshot; the server writes
  // them as they are, so a scrape copies nothing.
  WebResponse ServeMetrics(const WebRequest& req) {
    const bool gzip = AcceptsGzip(req.Header("Accept-Encoding"));
    WebResponse res;
    res.body = handlers_.metrics(gzip);
    res.SetHeader("Content-Type", kMetricsContentType);
    res.SetHeader("Vary", "Accept-Encoding");
    if (gzip) res.SetHeader("Content-Encoding", "gzip");
    return res;
  }

  WebResponse Reload() {
    if (!options_.enable_lifecycle) {
      return Text(403, "Lifecycle API is not enabled.\n");
    }
    const std::string errors = ReloadAll();
    return Text(errors.empty() ? 200 : 500, errors);
  }

  const WebOptions options_;
  const WebHandlers handlers_;
  BasicAuth auth_;
  mutable std::mutex web_mu_;
  std::shared_ptr<const WebConfig> web_config_;  // guarded by web_mu_
  std::mutex web_reload_mu_;  // one web config reload at a time
  // Set once by Start(), before the server runs.
  std::unique_ptr<TlsServerContext> tls_;
  std::unique_ptr<HttpServer> server_;
  std::mutex reload_mu_;
  std::mutex auth_log_mu_;
  std::optional<std::chrono::steady_clock::time_point> last_auth_log_;
  uint64_t auth_log_suppressed_ = 0;
};

WebServer::WebServer(WebOptions options, WebHandlers handlers)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(handlers))) {}

WebServer::~WebServer() = default;

void WebServer::Start() { impl_->Start(); }

void WebServer::Stop() { impl_->Stop(); }

int WebServer::port() const { return impl_->port(); }

std::string WebServer::ReloadWebConfig() { return impl_->ReloadWebConfig(); }

std::string WebServer::Reload() { return impl_->ReloadAll(); }

BasicAuth::Stats WebServer::auth_stats() const { return impl_->auth_stats(); }

size_t WebServer::connections() const { return impl_->connections(); }

}  // namespace cloudaware_exporter
