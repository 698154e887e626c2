#include "exporter/web/web.h"

#include <httplib.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <exception>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>
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

// Scrapes, probes and the odd browser: a handful of clients at once.
constexpr size_t kWorkers = 8;
// No endpoint takes a body; this only stops a client from making a worker
// read an unbounded one.
constexpr size_t kMaxRequestBody = 64 * 1024;
// httplib 0.11's stop() closes only the listening socket and then joins the
// workers, and a worker serving an idle keep-alive connection keeps waiting
// for the next request until the keep-alive timeout ends; the accepted
// sockets are out of our reach, so this timeout bounds how long Stop()
// takes. One second costs little: Prometheus scrapes every 15 s or more, so
// a longer timeout would rarely carry a connection over to the next scrape,
// and a new loopback or LAN connection per scrape is cheap. httplib waits the
// same time for a connection's first request, which clients send at once.
constexpr time_t kKeepAliveSeconds = 1;
constexpr time_t kReadTimeoutSeconds = 5;
constexpr time_t kWriteTimeoutSeconds = 10;
constexpr auto kStartTimeout = std::chrono::seconds(5);
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

// httplib's default adds SO_REUSEPORT, which lets a second exporter bind the
// same port and silently take half of the scrapes. SO_REUSEADDR alone still
// allows a restart while old connections linger in TIME_WAIT.
void SetSocketOptions(socket_t sock) {
  int yes = 1;
  setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
}

void SetText(httplib::Response& res, int status, const std::string& body) {
  res.status = status;
  res.set_content(body, kTextContentType);
}

bool IsGet(const httplib::Request& req) {
  return req.method == "GET" || req.method == "HEAD";
}

void MethodNotAllowed(httplib::Response& res, const char* allow) {
  res.set_header("Allow", allow);
  SetText(res, 405, "Method not allowed\n");
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
    if (thread_.joinable()) return;
    if (!server_) server_ = MakeServer();
    const std::string& address = options_.listen_address;
    const std::optional<HostPort> host_port = ParseListenAddress(address);
    if (!host_port) {
      throw std::runtime_error("cannot listen on " + address +
                               ": want HOST:PORT");
    }
    // httplib reports only success; errno still holds bind(2)'s reason.
    errno = 0;
    bool bound;
    if (host_port->port == 0) {
      port_ = server_->bind_to_any_port(host_port->host);
      bound = port_ > 0;
    } else {
      bound = server_->bind_to_port(host_port->host, host_port->port);
      port_ = host_port->port;
    }
    if (!bound) {
      const int err = errno;
      port_ = 0;
      throw std::runtime_error(
          "cannot listen on " + address + ": " +
          (err != 0 ? std::strerror(err) : "cannot resolve the host"));
    }
    thread_ = std::thread([this] { server_->listen_after_bind(); });
    // httplib 0.11 has no wait_until_ready(); the socket already listens
    // after bind_to_port, but Stop() only works once the accept loop runs.
    const auto deadline = std::chrono::steady_clock::now() + kStartTimeout;
    while (!server_->is_running()) {
      if (std::chrono::steady_clock::now() > deadline) {
        server_->stop();
        thread_.join();
        throw std::runtime_error("cannot listen on " + address +
                                 ": the server did not start");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    if (std::shared_ptr<const WebConfig> web = CurrentWebConfig()) {
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
    if (!thread_.joinable()) return;
    server_->stop();
    thread_.join();
  }

  int port() const { return port_; }

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
  std::unique_ptr<httplib::Server> MakeServer() {
    std::unique_ptr<httplib::Server> server;
    std::shared_ptr<const WebConfig> web = CurrentWebConfig();
    if (web && web->tls) {
      tls_ = std::make_unique<TlsServerContext>(*web->tls);
      server = std::make_unique<httplib::SSLServer>(
          [this](SSL_CTX& ctx) { return tls_->SetUp(ctx); });
      if (!server->is_valid()) {
        throw std::runtime_error("cannot set up TLS: OpenSSL failed");
      }
    } else {
      server = std::make_unique<httplib::Server>();
    }
    server->new_task_queue = [] { return new httplib::ThreadPool(kWorkers); };
    server->set_socket_options(SetSocketOptions);
    // Without it the end of every answer waits for the client's delayed ACK
    // (Nagle): about 40 ms per scrape. Accepted sockets inherit it.
    server->set_tcp_nodelay(true);
    server->set_keep_alive_timeout(kKeepAliveSeconds);
    server->set_read_timeout(kReadTimeoutSeconds);
    server->set_write_timeout(kWriteTimeoutSeconds);
    server->set_payload_max_length(kMaxRequestBody);
    server->set_default_headers({{"X-Content-Type-Options", "nosniff"}});
    server->set_exception_handler([](const httplib::Request& req,
                                     httplib::Response& res,
                                     std::exception_ptr ep) {
      std::string what = "unknown exception";
      try {
        std::rethrow_exception(ep);
      } catch (const std::exception& e) {
        what = e.what();
      } catch (...) {
      }
      LogError("HTTP handler failed", {{"path", req.path}, {"err", what}});
      SetText(res, 500, "Internal server error\n");
    });
    // One handler for every path and method, so that a known path asked
    // with the wrong method gets 405 rather than httplib's 404. Reading the
    // bodies of the body-carrying methods (httplib caps them) keeps a
    // kept-alive connection in step.
    const httplib::Server::Handler dispatch =
        [this](const httplib::Request& req, httplib::Response& res) {
          Dispatch(req, res);
        };
    // A request without Content-Length or chunked encoding has no body
    // (RFC 9112, 6.3), but httplib 0.11 would wait for the connection to
    // close to read one: `curl -X POST .../-/reload` would hang. So the
    // handler reads (and drops) a body only when one is announced.
    const httplib::Server::HandlerWithContentReader dispatch_with_body =
        [this](const httplib::Request& req, httplib::Response& res,
               const httplib::ContentReader& content) {
          if (req.has_header("Content-Length") ||
              req.has_header("Transfer-Encoding")) {
            // httplib answers 413 itself past set_payload_max_length.
            if (!content([](const char*, size_t) { return true; })) return;
          }
          Dispatch(req, res);
        };
    server->Get(".*", dispatch);
    server->Post(".*", dispatch_with_body);
    server->Put(".*", dispatch_with_body);
    server->Patch(".*", dispatch_with_body);
    server->Delete(".*", dispatch);
    server->Options(".*", dispatch);
    return server;
  }

  std::shared_ptr<const WebConfig> CurrentWebConfig() const {
    std::lock_guard<std::mutex> lock(web_mu_);
    return web_config_;
  }

  // Answers 401 and returns false unless the request may go on.
  bool Authorize(const httplib::Request& req, httplib::Response& res) {
    if (!auth_.enabled()) return true;
    // Two Authorization headers would leave it open which one counts.
    const BasicAuth::Result result =
        req.get_header_value_count("Authorization") > 1
            ? BasicAuth::Result::kMalformed
            : auth_.Check(req.get_header_value("Authorization"));
    if (result == BasicAuth::Result::kOk) return true;
    // The same answer whatever went wrong, so that it tells nothing about
    // which users exist.
    res.set_header("WWW-Authenticate", kAuthenticate);
    SetText(res, 401, "Unauthorized\n");
    if (result != BasicAuth::Result::kMissing) LogAuthFailure(req, result);
    return false;
  }

  // Neither the user name nor the password is logged: either may be a
  // password typed into the wrong field. `suppressed` counts the failures
  // left out since the previous line.
  void LogAuthFailure(const httplib::Request& req, BasicAuth::Result result) {
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

  void Dispatch(const httplib::Request& req, httplib::Response& res) {
    if (std::shared_ptr<const WebConfig> web = CurrentWebConfig()) {
      for (const auto& [name, value] : web->headers) {
        res.headers.erase(name);
        res.set_header(name, value);
      }
    }
    if (!Authorize(req, res)) return;
    const std::string& path = req.path;
    if (path == options_.telemetry_path) {
      if (!IsGet(req)) return MethodNotAllowed(res, "GET, HEAD");
      return ServeMetrics(req, res);
    }
    if (path == "/") {
      if (!IsGet(req)) return MethodNotAllowed(res, "GET, HEAD");
      res.status = 200;
      res.set_content(handlers_.landing_page(), kHtmlContentType);
      return;
    }
    if (path == "/status" && handlers_.status) {
      if (!IsGet(req)) return MethodNotAllowed(res, "GET, HEAD");
      res.status = 200;
      res.set_content(handlers_.status(), kJsonContentType);
      return;
    }
    if (path == "/-/healthy") {
      if (!IsGet(req)) return MethodNotAllowed(res, "GET, HEAD");
      return SetText(res, 200, "Healthy\n");
    }
    if (path == "/-/ready") {
      if (!IsGet(req)) return MethodNotAllowed(res, "GET, HEAD");
      if (handlers_.ready()) return SetText(res, 200, "Ready\n");
      return SetText(res, 503, "Not ready\n");
    }
    if (path == "/-/reload") {
      if (req.method != "POST" && req.method != "PUT") {
        return MethodNotAllowed(res, "POST, PUT");
      }
      return Reload(res);
    }
    SetText(res, 404, "Not found\n");
  }

  // The chunks are shared with the collector's snapshot; the provider keeps
  // them alive and writes them as they are, so a scrape copies nothing.
  void ServeMetrics(const httplib::Request& req, httplib::Response& res) {
    const bool gzip = AcceptsGzip(req.get_header_value("Accept-Encoding"));
    std::vector<std::shared_ptr<const std::string>> chunks =
        handlers_.metrics(gzip);
    size_t total = 0;
    for (const auto& chunk : chunks) {
      if (chunk) total += chunk->size();
    }
    res.status = 200;
    res.set_header("Vary", "Accept-Encoding");
    // A fixed-length provider is sent as it is: httplib compresses only
    // bodies and chunked providers, so the header is ours to set.
    if (gzip) res.set_header("Content-Encoding", "gzip");
    // httplib 0.11 drops a provider of length 0 and then sends no
    // Content-Length, which leaves a keep-alive client waiting for the body.
    if (total == 0) return res.set_content("", kMetricsContentType);
    res.set_content_provider(
        total, kMetricsContentType,
        [chunks = std::move(chunks)](size_t offset, size_t length,
                                     httplib::DataSink& sink) {
          size_t start = 0;
          for (const auto& chunk : chunks) {
            if (!chunk) continue;
            if (offset < start + chunk->size()) {
              const size_t skip = offset - start;
              const size_t n = std::min(chunk->size() - skip, length);
              return sink.write(chunk->data() + skip, n);
            }
            start += chunk->size();
          }
          return false;
        });
  }

  void Reload(httplib::Response& res) {
    if (!options_.enable_lifecycle) {
      return SetText(res, 403, "Lifecycle API is not enabled.\n");
    }
    // Two reload requests at once would otherwise race inside the reload.
    std::lock_guard<std::mutex> lock(reload_mu_);
    const std::string error = handlers_.reload();
    const std::string web_error = ReloadWebConfig();
    if (error.empty() && web_error.empty()) return SetText(res, 200, "");
    std::string body;
    if (!error.empty()) body += "failed to reload config: " + error + "\n";
    if (!web_error.empty()) {
      body += "failed to reload web config: " + web_error + "\n";
    }
    SetText(res, 500, body);
  }

  const WebOptions options_;
  const WebHandlers handlers_;
  BasicAuth auth_;
  mutable std::mutex web_mu_;
  std::shared_ptr<const WebConfig> web_config_;  // guarded by web_mu_
  std::mutex web_reload_mu_;  // one web config reload at a time
  // Set once by Start(), before the server thread runs.
  std::unique_ptr<TlsServerContext> tls_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
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

BasicAuth::Stats WebServer::auth_stats() const { return impl_->auth_stats(); }

}  // namespace cloudaware_exporter
