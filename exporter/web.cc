#include "exporter/web.h"

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

#include "exporter/log.h"

namespace cloudaware_exporter {
namespace {

constexpr char kMetricsContentType[] =
    "text/plain; version=0.0.4; charset=utf-8";
constexpr char kTextContentType[] = "text/plain; charset=utf-8";
constexpr char kHtmlContentType[] = "text/html; charset=utf-8";

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

}  // namespace

class WebServer::Impl {
 public:
  Impl(WebOptions options, WebHandlers handlers)
      : options_(std::move(options)), handlers_(std::move(handlers)) {
    server_.new_task_queue = [] { return new httplib::ThreadPool(kWorkers); };
    server_.set_socket_options(SetSocketOptions);
    server_.set_keep_alive_timeout(kKeepAliveSeconds);
    server_.set_read_timeout(kReadTimeoutSeconds);
    server_.set_write_timeout(kWriteTimeoutSeconds);
    server_.set_payload_max_length(kMaxRequestBody);
    server_.set_default_headers({{"X-Content-Type-Options", "nosniff"}});
    server_.set_exception_handler([](const httplib::Request& req,
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
    // with the wrong method gets 405 rather than httplib's 404. Registering
    // the body-carrying methods also makes httplib read (and cap) bodies,
    // which keeps a kept-alive connection in step.
    const httplib::Server::Handler dispatch =
        [this](const httplib::Request& req, httplib::Response& res) {
          Dispatch(req, res);
        };
    server_.Get(".*", dispatch);
    server_.Post(".*", dispatch);
    server_.Put(".*", dispatch);
    server_.Patch(".*", dispatch);
    server_.Delete(".*", dispatch);
    server_.Options(".*", dispatch);
  }

  ~Impl() { Stop(); }

  void Start() {
    if (thread_.joinable()) return;
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
      port_ = server_.bind_to_any_port(host_port->host);
      bound = port_ > 0;
    } else {
      bound = server_.bind_to_port(host_port->host, host_port->port);
      port_ = host_port->port;
    }
    if (!bound) {
      const int err = errno;
      port_ = 0;
      throw std::runtime_error(
          "cannot listen on " + address + ": " +
          (err != 0 ? std::strerror(err) : "cannot resolve the host"));
    }
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    // httplib 0.11 has no wait_until_ready(); the socket already listens
    // after bind_to_port, but Stop() only works once the accept loop runs.
    const auto deadline = std::chrono::steady_clock::now() + kStartTimeout;
    while (!server_.is_running()) {
      if (std::chrono::steady_clock::now() > deadline) {
        server_.stop();
        thread_.join();
        throw std::runtime_error("cannot listen on " + address +
                                 ": the server did not start");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }

  void Stop() {
    if (!thread_.joinable()) return;
    server_.stop();
    thread_.join();
  }

  int port() const { return port_; }

 private:
  void Dispatch(const httplib::Request& req, httplib::Response& res) {
    const std::string& path = req.path;
    if (path == options_.telemetry_path) {
      if (!IsGet(req)) return MethodNotAllowed(res, "GET, HEAD");
      return ServeMetrics(res);
    }
    if (path == "/") {
      if (!IsGet(req)) return MethodNotAllowed(res, "GET, HEAD");
      res.status = 200;
      res.set_content(handlers_.landing_page(), kHtmlContentType);
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
  void ServeMetrics(httplib::Response& res) {
    std::vector<std::shared_ptr<const std::string>> chunks =
        handlers_.metrics();
    size_t total = 0;
    for (const auto& chunk : chunks) {
      if (chunk) total += chunk->size();
    }
    res.status = 200;
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
    if (error.empty()) return SetText(res, 200, "");
    SetText(res, 500, "failed to reload config: " + error + "\n");
  }

  const WebOptions options_;
  const WebHandlers handlers_;
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  std::mutex reload_mu_;
};

WebServer::WebServer(WebOptions options, WebHandlers handlers)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(handlers))) {}

WebServer::~WebServer() = default;

void WebServer::Start() { impl_->Start(); }

void WebServer::Stop() { impl_->Stop(); }

int WebServer::port() const { return impl_->port(); }

}  // namespace cloudaware_exporter
