#include "exporter/cmdb/http_client.h"

#include <openssl/x509.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>

#include "exporter/base/duration.h"
#include "exporter/base/log.h"
#include "exporter/cmdb/api_error.h"

namespace cloudaware_exporter {
namespace {

// Idle connections kept per host; more are closed after use.
constexpr size_t kMaxIdlePerHost = 8;

std::string Lower(std::string s) {
  for (char& c : s)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// NO_PROXY entries: "host", ".suffix", "*" (everything).
bool Bypass(const std::vector<std::string>& no_proxy, const std::string& host) {
  std::string h = Lower(host);
  for (const std::string& entry : no_proxy) {
    if (entry == "*" || entry == h) return true;
    std::string suffix = entry[0] == '.' ? entry : "." + entry;
    if (h.size() > suffix.size() && h.ends_with(suffix)) return true;
  }
  return false;
}

}  // namespace

std::string Url::Base() const {
  return scheme + "://" + host + ":" + std::to_string(port);
}

std::optional<Url> ParseUrl(const std::string& url) {
  Url u;
  size_t sep = url.find("://");
  if (sep == std::string::npos) return std::nullopt;
  u.scheme = Lower(url.substr(0, sep));
  if (u.scheme != "http" && u.scheme != "https") return std::nullopt;
  std::string rest = url.substr(sep + 3);
  rest = rest.substr(0, rest.find_first_of("/?#"));
  size_t at = rest.rfind('@');
  if (at != std::string::npos)
    rest = rest.substr(at + 1);  // userinfo is not ours to send
  size_t colon = rest.rfind(':');
  if (colon != std::string::npos &&
      rest.find(']', colon) == std::string::npos) {
    std::string port = rest.substr(colon + 1);
    if (port.empty() || port.size() > 5 ||
        !std::all_of(port.begin(), port.end(),
                     [](char c) { return c >= '0' && c <= '9'; })) {
      return std::nullopt;
    }
    u.port = std::stoi(port);
    rest = rest.substr(0, colon);
  } else {
    u.port = u.scheme == "https" ? 443 : 80;
  }
  if (rest.empty() || u.port < 1 || u.port > 65535) return std::nullopt;
  u.host = rest;
  return u;
}

std::string UrlEncode(const std::string& s) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size() * 3);
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string HttpResponse::Header(const std::string& name) const {
  for (const auto& [k, v] : headers) {
    if (Lower(k) == Lower(name)) return v;
  }
  return "";
}

HttpClient::HttpClient(const CloudawareConfig& config, const EnvLookup& env)
    : request_timeout_(config.request_timeout),
      connect_timeout_(config.connect_timeout),
      read_timeout_(config.read_timeout),
      max_response_size_(static_cast<size_t>(config.max_response_size)),
      ca_file_(config.tls.ca_file),
      insecure_skip_verify_(config.tls.insecure_skip_verify) {
  // As Go programs do, honour OpenSSL's SSL_CERT_FILE when no CA file is
  // configured; httplib itself only reads the system store.
  if (ca_file_.empty()) {
    if (auto v = env("SSL_CERT_FILE"); v && !v->empty()) ca_file_ = *v;
  }
  if (insecure_skip_verify_) {
    LogWarn(
        "TLS CERTIFICATE VERIFICATION IS OFF (tls.insecure_skip_verify): "
        "anyone on the network path can read the client secret and the "
        "inventory; set tls.ca_file instead",
        {{"url", config.url}});
  }
  std::string proxy = config.proxy_url;
  if (proxy.empty()) {
    for (const char* name : {"HTTPS_PROXY", "https_proxy"}) {
      if (auto v = env(name); v && !v->empty()) {
        proxy = *v;
        break;
      }
    }
    for (const char* name : {"NO_PROXY", "no_proxy"}) {
      auto v = env(name);
      if (!v) continue;
      std::string list = *v;
      size_t start = 0;
      while (start <= list.size()) {
        size_t comma = list.find(',', start);
        std::string item = list.substr(start, comma - start);
        item.erase(0, item.find_first_not_of(" \t"));
        item.erase(item.find_last_not_of(" \t") + 1);
        if (!item.empty()) no_proxy_.push_back(Lower(item));
        if (comma == std::string::npos) break;
        start = comma + 1;
      }
      break;
    }
  }
  if (!proxy.empty()) {
    if (proxy.find("://") == std::string::npos) proxy = "http://" + proxy;
    proxy_ = ParseUrl(proxy);
  }
}

HttpClient::~HttpClient() {
  Stop();
  if (watchdog_.joinable()) watchdog_.join();
}

HttpClient::Connection HttpClient::Checkout(const Url& base, bool fresh,
                                            Clock::time_point deadline) {
  auto flight = std::make_shared<Flight>();
  flight->deadline = deadline;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopped_) throw CmdbError("network", "the exporter is shutting down");
    if (!watchdog_.joinable()) watchdog_ = std::thread([this] { Watchdog(); });
    auto& idle = idle_[base.Base()];
    if (fresh) idle.clear();
    if (!idle.empty()) {
      Connection c = std::move(idle.back());
      idle.pop_back();
      c.reused = true;
      flight->socket.store(c.flight->socket.load());
      c.flight = flight;
      // The socket callback of a reused client points at its first flight.
      c.client->set_socket_options(
          [flight](int fd) { flight->socket.store(fd); });
      in_flight_.emplace(c.client.get(), flight);
      cv_.notify_all();
      return c;
    }
  }
  Connection c{std::make_unique<httplib::Client>(base.Base()), flight};
  // Remember the socket, so that Stop() and the watchdog can shut it down:
  // httplib's own Client::stop() does the same under a mutex of its own,
  // which would race with the request it aborts.
  c.client->set_socket_options([flight](int fd) { flight->socket.store(fd); });
  c.client->set_connection_timeout(connect_timeout_);
  c.client->set_read_timeout(read_timeout_);
  c.client->set_write_timeout(read_timeout_);
  c.client->set_keep_alive(true);
  // httplib writes a POST's headers and body separately; with Nagle on, the
  // body would wait for the server's delayed ACK, about 40 ms a request.
  c.client->set_tcp_nodelay(true);
  c.client->set_url_encode(
      false);  // callers encode; httplib would re-encode '%'
  if (base.scheme == "https") {
    c.client->enable_server_certificate_verification(!insecure_skip_verify_);
    if (!ca_file_.empty()) c.client->set_ca_cert_path(ca_file_);
  }
  if (proxy_ && !Bypass(no_proxy_, base.host)) {
    c.client->set_proxy(proxy_->host, proxy_->port);
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (stopped_) throw CmdbError("network", "the exporter is shutting down");
  in_flight_.emplace(c.client.get(), flight);
  cv_.notify_all();
  return c;
}

void HttpClient::Return(const Url& base, Connection connection) {
  std::lock_guard<std::mutex> lock(mu_);
  in_flight_.erase(connection.client.get());
  auto& idle = idle_[base.Base()];
  if (!stopped_ && idle.size() < kMaxIdlePerHost)
    idle.push_back(std::move(connection));
}

void HttpClient::Forget(httplib::Client* client) {
  std::lock_guard<std::mutex> lock(mu_);
  in_flight_.erase(client);
}

void HttpClient::Watchdog() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopped_) {
    auto now = Clock::now();
    auto wake = now + std::chrono::hours(1);
    for (const auto& [client, flight] : in_flight_) {
      if (flight->expired) continue;
      if (flight->deadline <= now) {
        flight->expired = true;
        int fd = flight->socket.load();
        if (fd >= 0) shutdown(fd, SHUT_RDWR);
      } else {
        wake = std::min(wake, flight->deadline);
      }
    }
    cv_.wait_until(lock, wake);
  }
}

HttpResponse HttpClient::Do(const Url& base, httplib::Request request) {
  auto start = Clock::now();
  auto deadline = start + request_timeout_;
  std::string body;
  bool too_large = false;
  request.content_receiver = [&](const char* data, size_t n, uint64_t,
                                 uint64_t) {
    if (body.size() + n > max_response_size_) {
      too_large = true;
      return false;
    }
    body.append(data, n);
    return true;
  };
  Connection connection = Checkout(base, /*fresh=*/false, deadline);
  httplib::Client* client = connection.client.get();
  httplib::Result res = client->send(request);
  // The server may have closed an idle keep-alive connection, and httplib's
  // liveness check misses a closed TLS connection: as Go's HTTP client does,
  // retry once on a new connection (dropping the other idle ones, which are
  // older still) when a reused one fails without an answer or a timeout.
  if (!res && connection.reused && !connection.flight->expired &&
      Clock::now() - start < read_timeout_ &&
      (res.error() == httplib::Error::Write ||
       res.error() == httplib::Error::Read)) {
    Forget(client);
    body.clear();
    connection = Checkout(base, /*fresh=*/true, deadline);
    client = connection.client.get();
    res = client->send(request);
  }
  auto elapsed = Clock::now() - start;
  if (!res) {
    // The connection is in an unknown state: do not reuse it.
    Forget(client);
    httplib::Error err = res.error();
    if (too_large) {
      throw CmdbError("too_large",
                      base.host + ": the answer exceeds max_response_size (" +
                          std::to_string(max_response_size_) + " bytes)");
    }
    std::string what = httplib::to_string(err);
    if (err == httplib::Error::SSLServerVerification) {
      long verify = client->get_openssl_verify_result();
      what = "TLS certificate verification failed for " + base.host + ": " +
             X509_verify_cert_error_string(verify) +
             (ca_file_.empty()
                  ? " (system CAs; set cloudaware.tls.ca_file for a private CA)"
                  : " (trusting only the CAs in " + ca_file_ + ")");
    }
    if (connection.flight->expired) {
      throw CmdbError("timeout", base.host + ": no complete answer within " +
                                     FormatDuration(request_timeout_) +
                                     " (request_timeout)");
    }
    if (err == httplib::Error::ConnectionTimeout) {
      throw CmdbError("timeout", base.host + ": could not connect within " +
                                     FormatDuration(connect_timeout_) +
                                     " (connect_timeout)");
    }
    if (err == httplib::Error::Read && elapsed >= read_timeout_) {
      throw CmdbError("timeout", base.host + ": no data for " +
                                     FormatDuration(read_timeout_) +
                                     " (read_timeout)");
    }
    throw CmdbError("network", base.Base() + ": " + what);
  }
  HttpResponse out{res->status, std::move(body), std::move(res->headers)};
  Return(base, std::move(connection));
  return out;
}

namespace {

httplib::Request MakeRequest(const char* method, const std::string& path,
                             const httplib::Headers& headers) {
  httplib::Request r;
  r.method = method;
  r.path = path;
  r.headers = headers;
  return r;
}

}  // namespace

HttpResponse HttpClient::Get(const Url& base, const std::string& path_and_query,
                             const httplib::Headers& headers) {
  return Do(base, MakeRequest("GET", path_and_query, headers));
}

HttpResponse HttpClient::PostForm(const Url& base, const std::string& path,
                                  const httplib::Headers& headers,
                                  const std::string& body) {
  httplib::Request r = MakeRequest("POST", path, headers);
  r.set_header("Content-Type", "application/x-www-form-urlencoded");
  r.body = body;
  return Do(base, std::move(r));
}

HttpResponse HttpClient::PostJson(const Url& base, const std::string& path,
                                  const httplib::Headers& headers,
                                  const std::string& body) {
  httplib::Request r = MakeRequest("POST", path, headers);
  r.set_header("Content-Type", "application/json");
  r.body = body;
  return Do(base, std::move(r));
}

void HttpClient::Stop() {
  std::lock_guard<std::mutex> lock(mu_);
  stopped_ = true;
  for (const auto& [client, flight] : in_flight_) {
    int fd = flight->socket.load();
    if (fd >= 0) shutdown(fd, SHUT_RDWR);
  }
  idle_.clear();
  cv_.notify_all();
}

bool HttpClient::stopped() {
  std::lock_guard<std::mutex> lock(mu_);
  return stopped_;
}

bool HttpClient::Wait(std::chrono::milliseconds d) {
  std::unique_lock<std::mutex> lock(mu_);
  return !cv_.wait_for(lock, d, [this] { return stopped_; });
}

}  // namespace cloudaware_exporter
