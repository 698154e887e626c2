// cloudaware_exporter: flags, config, wiring, signals. See README.md.
#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "exporter/cmdb_client.h"
#include "exporter/collector.h"
#include "exporter/config.h"
#include "exporter/http_client.h"
#include "exporter/landing_page.h"
#include "exporter/log.h"
#include "exporter/poller.h"
#include "exporter/self_metrics.h"
#include "exporter/status_json.h"
#include "exporter/token_source.h"
#include "exporter/web.h"

namespace cloudaware_exporter {
namespace {

constexpr char kUsage[] = R"(usage: cloudaware_exporter [flags]

Exports Cloudaware CMDB inventory counts as Prometheus metrics.

  --config.file=PATH              YAML config (default cloudaware_exporter.yml)
  --config.check                  validate the config, print problems, exit 0 or 1
  --once                          run every query once, print the exposition, exit 1 if any failed
  --web.listen-address=HOST:PORT  where to serve (default :9866)
  --web.telemetry-path=PATH       metrics path (default /metrics)
  --web.config.file=PATH          TLS and basic auth for the endpoints, in the
                                  exporter-toolkit web-config format (see README)
  --web.enable-lifecycle          allow POST /-/reload
  --log.level=LEVEL               debug, info, warn or error (default info)
  --log.format=FORMAT             logfmt or json (default logfmt)
  --version                       print version and build information
)";

struct Flags {
  std::string config_file = "cloudaware_exporter.yml";
  bool config_check = false;
  bool once = false;
  std::string web_config_file;
  WebOptions web;
  LogLevel log_level = LogLevel::kInfo;
  LogFormat log_format = LogFormat::kLogfmt;
  bool version = false;
};

[[noreturn]] void Usage(const std::string& problem) {
  std::cerr << "cloudaware_exporter: " << problem << "\n\n" << kUsage;
  std::exit(2);
}

Flags ParseFlags(int argc, char** argv) {
  Flags f;
  const std::map<std::string, bool*> switches = {
      {"--config.check", &f.config_check},
      {"--once", &f.once},
      {"--web.enable-lifecycle", &f.web.enable_lifecycle},
      {"--version", &f.version}};
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::cout << kUsage;
      std::exit(0);
    }
    if (auto it = switches.find(arg); it != switches.end()) {
      *it->second = true;
      continue;
    }
    std::string name = arg, value;
    size_t eq = arg.find('=');
    if (eq != std::string::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      Usage("flag " + arg + " needs a value");
    }
    if (name == "--config.file") {
      f.config_file = value;
    } else if (name == "--web.config.file") {
      // Empty is no web config, as in exporter-toolkit.
      f.web_config_file = value;
    } else if (name == "--web.listen-address") {
      f.web.listen_address = value;
    } else if (name == "--web.telemetry-path") {
      if (value.empty() || value[0] != '/')
        Usage("--web.telemetry-path must start with /");
      f.web.telemetry_path = value;
    } else if (name == "--log.level") {
      auto level = ParseLogLevel(value);
      if (!level)
        Usage("--log.level must be debug, info, warn or error, got '" + value +
              "'");
      f.log_level = *level;
    } else if (name == "--log.format") {
      auto format = ParseLogFormat(value);
      if (!format)
        Usage("--log.format must be logfmt or json, got '" + value + "'");
      f.log_format = *format;
    } else {
      Usage("unknown flag " + name);
    }
  }
  return f;
}

// After REQUEST_LIMIT_EXCEEDED, wait for the next cycle: the shortest query
// interval.
CmdbClient::Options ClientOptions(const Config& config) {
  CmdbClient::Options options;
  options.limit_pause = config.queries.empty() ? config.default_interval
                                               : config.queries[0].interval;
  for (const QueryConfig& q : config.queries)
    options.limit_pause = std::min(options.limit_pause, q.interval);
  return options;
}

// Everything a config determines. A reload builds a new one and retires the
// old; the self metrics and the collector outlive both.
struct Pipeline {
  Pipeline(Config c, SelfMetrics& metrics, Collector& collector)
      : config(std::move(c)),
        http(config.cloudaware, ProcessEnv()),
        tokens(config.cloudaware, http, metrics),
        client(config.cloudaware, tokens, http, metrics, ClientOptions(config)),
        poller(config, client, collector, metrics) {}
  // Aborts requests in flight first, so a hung API cannot delay the stop.
  void Stop() {
    http.Stop();
    poller.Stop();
  }

  Config config;
  HttpClient http;
  TokenSource tokens;
  CmdbClient client;
  Poller poller;
};

std::vector<std::shared_ptr<const std::string>> Exposition(
    const Collector& collector, const SelfMetrics& metrics, bool gzip) {
  return Exposition(*collector.snapshot(), metrics.Render(), gzip);
}

class Exporter {
 public:
  Exporter(std::string config_file, Config config)
      : config_file_(std::move(config_file)),
        metrics_(CLOUDAWARE_VERSION, CLOUDAWARE_REVISION),
        pipeline_(std::make_shared<Pipeline>(std::move(config), metrics_,
                                             collector_)) {}

  int Once() {
    bool ok = pipeline_->poller.PollOnce();
    for (const auto& chunk : Exposition(collector_, metrics_, false))
      std::cout << *chunk;
    std::cout.flush();
    return ok ? 0 : 1;
  }

  void Start() { Current()->poller.Start(); }

  void Stop() {
    std::lock_guard<std::mutex> lock(reload_mu_);
    pipeline_->Stop();
  }

  // Returns "" or why the new config was refused (the old one stays).
  std::string Reload() {
    std::lock_guard<std::mutex> lock(reload_mu_);
    Config config;
    try {
      config = LoadConfig(config_file_);
    } catch (const ConfigError& e) {
      LogError("reload failed, keeping the current config",
               {{"err", e.what()}});
      return e.what();
    }
    auto old = Current();
    std::set<std::string> kept;
    for (const auto& q : config.queries) kept.insert(q.name);
    old->Stop();
    ready_once_ = ready_once_ || old->poller.ready();
    auto next =
        std::make_shared<Pipeline>(std::move(config), metrics_, collector_);
    for (const auto& q : old->config.queries) {
      if (!kept.count(q.name)) metrics_.RemoveQuery(q.name);
    }
    {
      std::lock_guard<std::mutex> guard(mu_);
      pipeline_ = next;
    }
    next->poller.Start();
    LogInfo("config reloaded",
            {{"file", config_file_},
             {"queries", std::to_string(next->config.queries.size())}});
    return "";
  }

  WebHandlers Handlers(const std::string& telemetry_path) {
    WebHandlers h;
    h.metrics = [this](bool gzip) {
      return Exposition(collector_, metrics_, gzip);
    };
    h.landing_page = [this, telemetry_path] {
      return RenderLandingPage(CLOUDAWARE_VERSION, telemetry_path,
                               Current()->poller.Status());
    };
    // Stays ready across reloads: the old results keep being served.
    h.ready = [this] {
      return ready_once_.load() || Current()->poller.ready();
    };
    h.status = [this] { return Status().dump(2) + "\n"; };
    h.reload = [this] { return Reload(); };
    return h;
  }

 private:
  // One entry per org; the single org of this config is named "".
  nlohmann::ordered_json Status() {
    std::shared_ptr<Pipeline> p = Current();
    OrgStatus org{.name = "",
                  .url = p->config.cloudaware.url,
                  .token = p->tokens.Status(),
                  .api = p->client.Budget(),
                  .ready = ready_once_.load() || p->poller.ready(),
                  .queries = p->poller.Status()};
    return StatusJson({.version = CLOUDAWARE_VERSION,
                       .revision = CLOUDAWARE_REVISION,
                       .start_time = start_time_,
                       .config_file = p->config.file,
                       .config_yaml = RedactedYaml(p->config),
                       .orgs = {std::move(org)}});
  }

  std::shared_ptr<Pipeline> Current() {
    std::lock_guard<std::mutex> lock(mu_);
    return pipeline_;
  }

  const std::string config_file_;
  const std::chrono::system_clock::time_point start_time_ =
      std::chrono::system_clock::now();
  SelfMetrics metrics_;
  Collector collector_;
  std::mutex reload_mu_;  // one reload or stop at a time
  std::mutex mu_;         // guards pipeline_
  std::shared_ptr<Pipeline> pipeline_;
  std::atomic<bool> ready_once_{false};
};

int Run(int argc, char** argv) {
  Flags flags = ParseFlags(argc, argv);
  if (flags.version) {
    std::cout << "cloudaware_exporter, version " << CLOUDAWARE_VERSION
              << " (revision: " << CLOUDAWARE_REVISION
              << ")\n  built with: g++ " << __VERSION__
              << ", prometheus-cpp, cpp-httplib " << CPPHTTPLIB_VERSION << "\n";
    return 0;
  }
  ConfigureLogging(flags.log_level, flags.log_format);

  Config config;
  try {
    config = LoadConfig(flags.config_file);
  } catch (const ConfigError& e) {
    if (flags.config_check) {
      std::cerr << e.what() << "\n";
    } else {
      LogError("cannot load config", {{"err", e.what()}});
    }
    return 1;
  }
  if (!flags.web_config_file.empty()) {
    try {
      flags.web.web_config = LoadWebConfig(flags.web_config_file);
      CheckWebConfig(*flags.web.web_config);
    } catch (const WebConfigError& e) {
      if (flags.config_check) {
        std::cerr << e.what() << "\n";
      } else {
        LogError("cannot load web config", {{"err", e.what()}});
      }
      return 1;
    }
  }
  if (flags.config_check) {
    std::cout << flags.config_file << ": OK, " << config.queries.size()
              << " queries\n";
    if (!flags.web_config_file.empty()) {
      std::cout << flags.web_config_file << ": OK\n";
    }
    return 0;
  }

  // Before any thread starts, so that only sigwait below sees them.
  sigset_t signals;
  sigemptyset(&signals);
  for (int s : {SIGHUP, SIGINT, SIGTERM}) sigaddset(&signals, s);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  if (config.cloudaware.batching == Batching::kComposite) {
    LogWarn(
        "batching: composite is not implemented yet; queries are sent one by "
        "one");
  }
  Exporter exporter(flags.config_file, std::move(config));
  if (flags.once) return exporter.Once();

  WebServer web(flags.web, exporter.Handlers(flags.web.telemetry_path));
  try {
    web.Start();
  } catch (const std::exception& e) {
    LogError("cannot serve", {{"err", e.what()}});
    return 1;
  }
  exporter.Start();
  LogInfo("cloudaware_exporter started", {{"version", CLOUDAWARE_VERSION},
                                          {"address", flags.web.listen_address},
                                          {"config", flags.config_file}});
  for (;;) {
    int sig = 0;
    sigwait(&signals, &sig);
    if (sig == SIGHUP) {
      exporter.Reload();
      web.ReloadWebConfig();
      continue;
    }
    LogInfo("shutting down",
            {{"signal", sig == SIGINT ? "SIGINT" : "SIGTERM"}});
    break;
  }
  web.Stop();
  exporter.Stop();
  return 0;
}

}  // namespace
}  // namespace cloudaware_exporter

int main(int argc, char** argv) { return cloudaware_exporter::Run(argc, argv); }
