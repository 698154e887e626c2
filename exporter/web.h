// The exporter's HTTP endpoints: the telemetry path, "/", /-/healthy,
// /-/ready and POST /-/reload. It knows nothing about the CMDB: main wires
// in the handlers. Served by cpp-httplib on its own thread pool; see the
// README for why not civetweb.
#ifndef CLOUDAWARE_EXPORTER_WEB_H_
#define CLOUDAWARE_EXPORTER_WEB_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace cloudaware_exporter {

struct WebOptions {
  std::string listen_address = ":9866";  // HOST:PORT; empty host is all
  std::string telemetry_path = "/metrics";
  bool enable_lifecycle = false;
};

struct WebHandlers {
  // The exposition, as chunks written in order. Called on scrape threads.
  std::function<std::vector<std::shared_ptr<const std::string>>()> metrics;
  // The landing page's HTML.
  std::function<std::string()> landing_page;
  std::function<bool()> ready;
  // Reloads the config; returns an error message, or "" on success.
  std::function<std::string()> reload;
};

class WebServer {
 public:
  WebServer(WebOptions options, WebHandlers handlers);
  ~WebServer();
  WebServer(const WebServer&) = delete;
  WebServer& operator=(const WebServer&) = delete;

  // Binds and serves on a background thread. Throws std::runtime_error
  // naming the address when it cannot listen.
  void Start();
  void Stop();
  int port() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cloudaware_exporter

#endif  // CLOUDAWARE_EXPORTER_WEB_H_
