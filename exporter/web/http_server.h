// The HTTP/1.1 transport under WebServer: Boost.Beast over Boost.Asio,
// event-driven, plain or TLS. A few I/O threads carry every connection, so
// a client that sends nothing, or one byte a second, costs a socket and a
// few kilobytes, never another client's turn. Complete requests go to a
// small handler pool, so a slow handler (a bcrypt check, a config reload)
// never holds up the I/O of other connections.
//
// Every connection is bounded (HttpLimits): its TLS handshake, its whole
// request head (not per byte), its idle time between keep-alive requests,
// the size of its head and body, the time to write an answer. The number of
// open connections is capped; when full, the connection idle the longest is
// closed to admit the new one, never one whose request is being answered.
#ifndef CLOUDAWARE_EXPORTER_WEB_HTTP_SERVER_H_
#define CLOUDAWARE_EXPORTER_WEB_HTTP_SERVER_H_

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cloudaware_exporter {

class TlsServerContext;

struct HttpLimits {
  // From the connection's start (after the TLS handshake), or from the
  // first byte of a later request, to the end of the request head.
  std::chrono::milliseconds head_timeout{std::chrono::seconds(10)};
  // Between the answer and the next request on a kept-alive connection.
  // Longer than Prometheus's usual 15 s or more between scrapes does not
  // matter: the connection is cheap, and the cap closes it when needed.
  std::chrono::milliseconds idle_timeout{std::chrono::seconds(60)};
  std::chrono::milliseconds tls_handshake_timeout{std::chrono::seconds(10)};
  // For a whole answer; tens of megabytes of exposition on a slow link.
  std::chrono::milliseconds write_timeout{std::chrono::seconds(60)};
  size_t max_connections = 1024;
  size_t max_head_bytes = 16 * 1024;
  // No endpoint takes a body; this only bounds what a client can send.
  size_t max_body_bytes = 64 * 1024;
};

// The flags that set HttpLimits, for the exporter's usage text.
extern const char kHttpLimitFlagsUsage[];

// Applies one of those flags (name without "=VALUE"). Returns nullopt when
// `name` is not one of them, "" when applied, else what is wrong with it.
std::optional<std::string> ParseHttpLimitFlag(const std::string& name,
                                              const std::string& value,
                                              HttpLimits& limits);

struct WebRequest {
  std::string method;  // as sent: "GET", "POST", ...
  std::string path;    // the target without its query
  std::string remote_addr;
  std::vector<std::pair<std::string, std::string>> headers;

  // The first value of a header (case-insensitive name), or "".
  std::string Header(std::string_view name) const;
  size_t HeaderCount(std::string_view name) const;
};

struct WebResponse {
  int status = 200;
  // Content-Length, Connection and Keep-Alive are the server's to set.
  std::vector<std::pair<std::string, std::string>> headers;
  // Written as they are, in order, with one gathering write: the chunks of
  // an exposition are shared with the collector and never copied.
  std::vector<std::shared_ptr<const std::string>> body;

  // Replaces every header of that name (case-insensitive).
  void SetHeader(std::string_view name, std::string value);
  void SetBody(std::string content);
};

// Called on the handler pool, several at once. An exception becomes 500.
using HttpHandler = std::function<WebResponse(const WebRequest&)>;

class HttpServer {
 public:
  // tls: nullptr for plain HTTP; else outlives the server.
  HttpServer(HttpLimits limits, HttpHandler handler, TlsServerContext* tls);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds HOST:PORT (port 0: any) and serves on background threads. Throws
  // std::runtime_error naming the address when it cannot listen.
  void Start(const std::string& host, int port, const std::string& address);
  // Closes the listener and every connection at once, answered or not.
  void Stop();
  int port() const;

  // Closes every connection that is not being answered, and the others
  // once their answer is written, so that new settings reach every client.
  void CloseConnections();
  // Open connections, for tests.
  size_t connections() const;

  class Impl;  // public for the connections in http_server.cc

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace cloudaware_exporter

#endif  // CLOUDAWARE_EXPORTER_WEB_HTTP_SERVER_H_
