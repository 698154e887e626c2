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

#include "exporter/app/landing_page.h"
#include "exporter/app/online_check.h"
#include "exporter/app/status_json.h"
#include "exporter/base/log.h"
#include "exporter/cmdb/cmdb_client.h"
#include "exporter/cmdb/http_client.h"
#include "exporter/cmdb/token_source.h"
#include "exporter/config/config.h"
#include "exporter/metrics/self_metrics.h"
#include "exporter/pipeline/collector.h"
#include "exporter/pipeline/poller.h"
#include "exporter/pipeline/result_store.h"
#include "exporter/web/web.h"

namespace cloudaware_exporter {
namespace {

constexpr char kUsage[] = R"(usage: cloudaware_exporter [flags]

Exports Cloudaware CMDB inventory counts as Prometheus metrics.

  --config.file=PATH              YAML config (default cloudaware_exporter.yml)
  --config.check                  validate the config, print problems, exit 0 or 1
  --config.check.online           also check each query against the org: describe
                                  its object and fields, run it with LIMIT 1
  --once                          run every query once, print the exposition, exit 1 if any failed
  --web.listen-address=HOST:PORT  where to serve (default :9866)
  --web.telemetry-path=PATH       metrics path (default /metrics)
  --web.config.file=PATH          TLS and basic auth for the endpoints, in the
                                  exporter-toolkit web-config format (see README)
  --web.enable-lifecycle          allow POST /-/reload
  --storage.path=DIR              keep the last good result of every query in DIR
                                  and serve it at once after a restart (created
                                  if missing; not used by --once)
  --log.level=LEVEL               debug, info, warn or error (default info)
  --log.format=FORMAT             logfmt or json (default logfmt)
  --version                       print version and build information
)";

struct Flags {
  std::string config_file = "cloudaware_exporter.yml";
  bool config_check = false;
  bool config_check_online = false;
  bool once = false;
  std::string web_config_file;
  std::string storage_path;
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
      {"--config.check.online", &f.config_check_online},
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
    } else if (name == "--storage.path") {
      f.storage_path = value;
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
CmdbClient::Options ClientOptions(const Config& config, const OrgConfig& org) {
  CmdbClient::Options options;
  options.limit_pause =
      org.queries.empty() ? config.default_interval : org.queries[0].interval;
  for (const QueryConfig& q : org.queries)
    options.limit_pause = std::min(options.limit_pause, q.interval);
  return options;
}

// Everything one org of a config determines. A reload builds new ones and
// retires the old; the self metrics and the collector outlive them.
struct Pipeline {
  Pipeline(const Config& config, size_t i, SelfMetrics& metrics,
           Collector& collector, ResultStore* store)
      : org(config.orgs[i]),
        http(org.cloudaware, ProcessEnv()),
        tokens(org.cloudaware, http, metrics),
        client(org.cloudaware, tokens, http, metrics,
               ClientOptions(config, org)),
        poller(config, client, collector, metrics, store, i) {}
  // Aborts requests in flight first, so a hung API cannot delay the stop.
  void Stop() {
    http.Stop();
    poller.Stop();
  }

  const OrgConfig org;
  HttpClient http;
  TokenSource tokens;
  CmdbClient client;
  Poller poller;
};

class Exporter {
 public:
  // store may be null; a reload keeps using it.
  Exporter(std::string config_file, Config config, ResultStore* store)
      : config_file_(std::move(config_file)), store_(store) {
    Install(std::move(config));
  }

  int Once() {
    bool ok = true;
    for (const auto& p : Pipelines()) ok = p->poller.PollOnce() && ok;
    for (const auto& chunk : Exposition(false)) std::cout << *chunk;
    std::cout.flush();
    return ok ? 0 : 1;
  }

  void Start() {
    for (const auto& p : Pipelines()) p->poller.Start();
  }

  void Stop() {
    std::lock_guard<std::mutex> lock(reload_mu_);
    for (const auto& p : Pipelines()) p->Stop();
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
    bool ready = true;
    for (const auto& p : Pipelines()) {
      p->Stop();
      ready = ready && p->poller.ready();
    }
    ready_once_ = ready_once_ || ready;
    const size_t orgs = config.orgs.size(), queries = CountQueries(config);
    Install(std::move(config));
    for (const auto& p : Pipelines()) p->poller.Start();
    LogInfo("config reloaded", {{"file", config_file_},
                                {"orgs", std::to_string(orgs)},
                                {"queries", std::to_string(queries)}});
    return "";
  }

  WebHandlers Handlers(const std::string& telemetry_path) {
    WebHandlers h;
    h.metrics = [this](bool gzip) { return Exposition(gzip); };
    h.landing_page = [this, telemetry_path] {
      std::vector<OrgSummary> orgs;
      std::lock_guard<std::mutex> lock(mu_);
      for (const auto& p : pipelines_) {
        orgs.push_back({.name = p->org.name,
                        .api_up = metrics_.at(p->org.name)->up(),
                        .token = p->tokens.Status(),
                        .api = p->client.Budget(),
                        .queries = p->poller.Status()});
      }
      return RenderLandingPage(CLOUDAWARE_VERSION, telemetry_path, orgs);
    };
    // Stays ready across reloads: the old results keep being served.
    h.ready = [this] {
      if (ready_once_.load()) return true;
      for (const auto& p : Pipelines()) {
        if (!p->poller.ready()) return false;
      }
      return true;
    };
    h.status = [this] { return Status().dump(2) + "\n"; };
    h.reload = [this] { return Reload(); };
    return h;
  }

  static size_t CountQueries(const Config& config) {
    size_t n = 0;
    for (const OrgConfig& org : config.orgs) n += org.queries.size();
    return n;
  }

 private:
  // One entry per org; a single-org config's is named "".
  nlohmann::ordered_json Status() {
    std::shared_ptr<const Config> config;
    std::vector<std::shared_ptr<Pipeline>> pipelines;
    {
      std::lock_guard<std::mutex> lock(mu_);
      config = config_;
      pipelines = pipelines_;
    }
    ExporterStatus status{.version = CLOUDAWARE_VERSION,
                          .revision = CLOUDAWARE_REVISION,
                          .start_time = start_time_,
                          .config_file = config->file,
                          .config_yaml = RedactedYaml(*config),
                          .orgs = {}};
    for (const auto& p : pipelines) {
      status.orgs.push_back({.name = p->org.name,
                             .url = p->org.cloudaware.url,
                             .token = p->tokens.Status(),
                             .api = p->client.Budget(),
                             .ready = ready_once_.load() || p->poller.ready(),
                             .queries = p->poller.Status()});
    }
    return StatusJson(status);
  }

  // Builds the pipelines of a config, with each org's self metrics: kept
  // from before for an org that stays, so counters carry on, and dropped for
  // an org that left. The old pipelines must be stopped.
  void Install(Config config) {
    std::map<std::string, std::shared_ptr<SelfMetrics>> metrics;
    std::vector<std::string> keys;
    for (const OrgConfig& org : config.orgs) {
      auto it = metrics_.find(org.name);
      metrics[org.name] =
          it != metrics_.end()
              ? it->second
              : std::make_shared<SelfMetrics>(CLOUDAWARE_VERSION,
                                              CLOUDAWARE_REVISION, org.name);
      for (const QueryConfig& q : org.queries)
        keys.push_back(CollectorKey(org.name, q.name));
    }
    // Queries that left the config take their self metrics with them.
    for (const auto& p : pipelines_) {
      auto it = metrics.find(p->org.name);
      if (it == metrics.end()) continue;
      const OrgConfig* now = nullptr;
      for (const OrgConfig& org : config.orgs) {
        if (org.name == p->org.name) now = &org;
      }
      for (const QueryConfig& q : p->org.queries) {
        bool kept =
            std::any_of(now->queries.begin(), now->queries.end(),
                        [&](const QueryConfig& n) { return n.name == q.name; });
        if (!kept) it->second->RemoveQuery(q.name);
      }
    }
    std::vector<std::shared_ptr<Pipeline>> pipelines;
    for (size_t i = 0; i < config.orgs.size(); ++i) {
      pipelines.push_back(std::make_shared<Pipeline>(
          config, i, *metrics[config.orgs[i].name], collector_, store_));
    }
    // A single org's poller orders its queries itself.
    if (config.orgs.size() > 1 || !config.orgs[0].name.empty()) {
      collector_.SetQueries(keys);
    }
    std::lock_guard<std::mutex> lock(mu_);
    pipelines_ = std::move(pipelines);
    metrics_ = std::move(metrics);
    config_ = std::make_shared<const Config>(std::move(config));
  }

  std::vector<std::shared_ptr<Pipeline>> Pipelines() {
    std::lock_guard<std::mutex> lock(mu_);
    return pipelines_;
  }

  std::vector<std::shared_ptr<const std::string>> Exposition(bool gzip) {
    std::vector<std::shared_ptr<SelfMetrics>> owned;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (const auto& [name, m] : metrics_) owned.push_back(m);
    }
    std::vector<const SelfMetrics*> metrics;
    for (const auto& m : owned) metrics.push_back(m.get());
    return cloudaware_exporter::Exposition(*collector_.snapshot(),
                                           RenderSelfMetrics(metrics), gzip);
  }

  const std::string config_file_;
  ResultStore* const store_;
  const std::chrono::system_clock::time_point start_time_ =
      std::chrono::system_clock::now();
  Collector collector_;
  std::mutex reload_mu_;  // one reload or stop at a time
  std::mutex mu_;         // guards config_, pipelines_ and metrics_
  std::shared_ptr<const Config> config_;
  std::vector<std::shared_ptr<Pipeline>> pipelines_;
  // By org name; shared with scrapes that are rendering them.
  std::map<std::string, std::shared_ptr<SelfMetrics>> metrics_;
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
  // The online check starts with every check of the offline one.
  flags.config_check = flags.config_check || flags.config_check_online;

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
    std::cout << flags.config_file << ": OK, " << Exporter::CountQueries(config)
              << " queries";
    if (config.orgs.size() > 1 || !config.orgs[0].name.empty()) {
      std::cout << " in " << config.orgs.size() << " orgs";
    }
    std::cout << "\n";
    if (!flags.web_config_file.empty()) {
      std::cout << flags.web_config_file << ": OK\n";
    }
    if (flags.config_check_online) {
      bool ok = true;
      for (const OrgConfig& org : config.orgs) {
        if (!org.name.empty()) std::cout << "org " << org.name << ":\n";
        ok = CheckOnline(org.cloudaware, org.queries,
                         config.max_label_value_length, std::cout) &&
             ok;
      }
      return ok ? 0 : 1;
    }
    return 0;
  }

  // Before any thread starts, so that only sigwait below sees them.
  sigset_t signals;
  sigemptyset(&signals);
  for (int s : {SIGHUP, SIGINT, SIGTERM}) sigaddset(&signals, s);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  std::unique_ptr<ResultStore> store;
  if (!flags.storage_path.empty() && !flags.once) {
    try {
      store = std::make_unique<ResultStore>(flags.storage_path);
    } catch (const std::exception& e) {
      LogError("cannot use storage path", {{"err", e.what()}});
      return 1;
    }
  }
  Exporter exporter(flags.config_file, std::move(config), store.get());
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
