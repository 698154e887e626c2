// The exporter's HTTP endpoints: the telemetry path, "/", /-/healthy,
// /-/ready and POST /-/reload. It knows nothing about the CMDB: main wires
// in the handlers. Served by HttpServer (Boost.Beast, event-driven; see the
// README for why). With a web config (--web.config.file) it serves HTTPS
// and asks for basic auth on every path.
#ifndef CLOUDAWARE_EXPORTER_WEB_H_
#define CLOUDAWARE_EXPORTER_WEB_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "exporter/web/basic_auth.h"
#include "exporter/web/http_server.h"
#include "exporter/web/web_config.h"

namespace cloudaware_exporter {

struct WebOptions {
  std::string listen_address = ":9866";  // HOST:PORT; empty host is all
  std::string telemetry_path = "/metrics";
  bool enable_lifecycle = false;
  // TLS, basic auth and extra response headers. nullopt: plain HTTP open
  // to all, as without --web.config.file.
  std::optional<WebConfig> web_config;
  // Per-connection bounds: deadlines, the connection cap, head size.
  HttpLimits limits;
};

// Loads what only loading can check: that the certificate and key parse
// and belong together, and that the client CA file holds certificates.
// Throws WebConfigError. For start-up and --config.check.
void CheckWebConfig(const WebConfig& config);

struct WebHandlers {
  // The exposition, as chunks written in order; with gzip, the chunks are
  // one gzip member. Called on scrape threads.
  std::function<std::vector<std::shared_ptr<const std::string>>(bool gzip)>
      metrics;
  // The landing page's HTML.
  std::function<std::string()> landing_page;
  // The JSON of /status. Unset: /status is not found.
  std::function<std::string()> status;
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
  // naming the address when it cannot listen, or WebConfigError when the
  // certificate or key does not load.
  void Start();
  void Stop();
  int port() const;

  // Reads the web config file again (WebOptions::web_config->file) and
  // applies its users, headers and TLS settings to the next requests and
  // handshakes. Returns "" or why the new file was refused; the current
  // settings then stay. After a reload, every connection is closed (an
  // answer under way first), so that no kept-alive connection goes on
  // under the old users or TLS settings. Does nothing without a web config
  // file.
  std::string ReloadWebConfig();
  // The one reload of everything, for POST /-/reload and SIGHUP alike: the
  // config (WebHandlers::reload), then the web config, one reload at a
  // time. Returns "" or a line per part that was refused.
  std::string Reload();

  // Basic auth counters, for tests.
  BasicAuth::Stats auth_stats() const;
  // Open connections, for tests.
  size_t connections() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cloudaware_exporter

#endif  // CLOUDAWARE_EXPORTER_WEB_H_
