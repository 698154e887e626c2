// HTTP(S) requests to the CMDB: TLS verification on (system CAs or a CA
// file), an optional proxy (config or HTTPS_PROXY/NO_PROXY), a pool of
// keep-alive connections per host, and bounds on every request: connect,
// read (between bytes) and total timeouts, and a maximum answer size.
// Thread-safe; Stop() from any thread aborts requests in flight so shutdown
// never waits on a hung API.
#ifndef CLOUDAWARE_EXPORTER_HTTP_CLIENT_H_
#define CLOUDAWARE_EXPORTER_HTTP_CLIENT_H_

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "exporter/config/config.h"

namespace cloudaware_exporter {

struct Url {
  std::string scheme;  // http or https
  std::string host;
  int port = 0;
  std::string Base() const;  // scheme://host:port
};
// scheme://host[:port][/...]; the path, if any, is ignored.
std::optional<Url> ParseUrl(const std::string& url);

// Percent-encodes everything but unreserved characters (RFC 3986).
std::string UrlEncode(const std::string& s);

struct HttpResponse {
  int status = 0;
  std::string body;
  httplib::Headers headers;
  std::string Header(const std::string& name) const;
};

class HttpClient {
 public:
  // env looks up HTTPS_PROXY, https_proxy, NO_PROXY and no_proxy when
  // config.proxy_url is empty, and SSL_CERT_FILE when tls.ca_file is.
  HttpClient(const CloudawareConfig& config, const EnvLookup& env);
  ~HttpClient();

  // Throws CmdbError: code "timeout" when the API did not answer in time,
  // "too_large" when the answer exceeds max_response_size, "network" for
  // every other failure to get a response (its message says which:
  // connection refused, TLS verification failed, ...).
  HttpResponse Get(const Url& base, const std::string& path_and_query,
                   const httplib::Headers& headers);
  HttpResponse PostForm(const Url& base, const std::string& path,
                        const httplib::Headers& headers,
                        const std::string& body);
  HttpResponse PostJson(const Url& base, const std::string& path,
                        const httplib::Headers& headers,
                        const std::string& body);

  // Aborts requests in flight; later requests fail at once.
  void Stop();
  // Sleeps for d; returns false at once when Stop() is called.
  bool Wait(std::chrono::milliseconds d);
  bool stopped();

 private:
  using Clock = std::chrono::steady_clock;
  // What the watchdog shares with a request in flight.
  struct Flight {
    std::atomic<int> socket{-1};  // -1 before it connects
    std::atomic<bool> expired{false};
    Clock::time_point deadline;
  };
  struct Connection {
    std::unique_ptr<httplib::Client> client;
    std::shared_ptr<Flight> flight;
    bool reused = false;  // taken from the idle pool
  };
  HttpResponse Do(const Url& base, httplib::Request request);
  // An idle connection to base, or a new one (always new when fresh), that
  // the watchdog aborts at deadline.
  Connection Checkout(const Url& base, bool fresh, Clock::time_point deadline);
  void Return(const Url& base, Connection connection);
  void Forget(httplib::Client* client);
  // Shuts down the sockets of requests past their deadline.
  void Watchdog();

  std::chrono::milliseconds request_timeout_;
  std::chrono::milliseconds connect_timeout_;
  std::chrono::milliseconds read_timeout_;
  size_t max_response_size_;
  std::string ca_file_;
  bool insecure_skip_verify_;
  std::optional<Url> proxy_;
  std::vector<std::string> no_proxy_;

  std::mutex mu_;
  std::condition_variable cv_;  // Stop(), and a new request for the watchdog
  bool stopped_ = false;
  std::map<std::string, std::vector<Connection>> idle_;
  std::map<httplib::Client*, std::shared_ptr<Flight>> in_flight_;
  std::thread watchdog_;
};

}  // namespace cloudaware_exporter

#endif  // CLOUDAWARE_EXPORTER_HTTP_CLIENT_H_
