// cloudaware_exporter: flags, config, wiring, signals. See README.md.
#include <pthread.h>
#include <signal.h>

#include <cstdio>
#include <iostream>
#include <map>
#include <memory>
#include <string>

#include "exporter/app/discover.h"
#include "exporter/app/exporter.h"
#include "exporter/app/online_check.h"
#include "exporter/base/duration.h"
#include "exporter/base/log.h"
#include "exporter/config/config.h"
#include "exporter/pipeline/result_store.h"
#include "exporter/web/web.h"

namespace cloudaware_exporter {
namespace {

const std::string kUsage =
    R"(usage: cloudaware_exporter [flags]

Exports Cloudaware CMDB inventory counts as Prometheus metrics.

  --config.file=PATH              YAML config (default cloudaware_exporter.yml)
  --config.check                  validate the config, print problems, exit 0 or 1
  --config.check.online           also check each query against the org: describe
                                  its object and fields, run it with LIMIT 1
  --config.discover=FILE          sign in with the org of --config.file, look at
                                  its objects and write a starting config to FILE
  --discover.max-calls=N          most API calls --config.discover spends (default 100)
  --once                          run every query once, print the exposition, exit 1 if any failed
  --web.listen-address=HOST:PORT  where to serve (default :9866)
  --web.telemetry-path=PATH       metrics path (default /metrics)
  --web.config.file=PATH          TLS and basic auth for the endpoints, in the
                                  exporter-toolkit web-config format (see README)
  --web.enable-lifecycle          allow POST /-/reload
)" + std::string(kHttpLimitFlagsUsage) +
    R"(  --storage.path=DIR              keep the last good result of every query in DIR
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
  std::string discover_file;
  size_t discover_max_calls = 100;
  std::string web_config_file;
  std::string storage_path;
  WebOptions web;
  LogLevel log_level = LogLevel::kInfo;
  LogFormat log_format = LogFormat::kLogfmt;
  bool version = false;
  // Hidden from the usage: timings for tests of the binary, which cannot
  // wait out a real org's backoffs.
  OrgOptions org;
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
    } else if (name == "--config.discover") {
      if (value.empty()) Usage("--config.discover needs a file name");
      f.discover_file = value;
    } else if (name == "--discover.max-calls") {
      if (value.empty() ||
          value.find_first_not_of("0123456789") != std::string::npos ||
          value.size() > 6 || std::stoul(value) == 0)
        Usage("--discover.max-calls must be a whole number from 1, got '" +
              value + "'");
      f.discover_max_calls = std::stoul(value);
    } else if (name == "--storage.path") {
      f.storage_path = value;
    } else if (name == "--web.listen-address") {
      f.web.listen_address = value;
    } else if (name == "--web.telemetry-path") {
      if (value.empty() || value[0] != '/')
        Usage("--web.telemetry-path must start with /");
      f.web.telemetry_path = value;
    } else if (auto limit = ParseHttpLimitFlag(name, value, f.web.limits)) {
      if (!limit->empty()) Usage(*limit);
    } else if (name == "--log.level") {
      auto level = ParseLogLevel(value);
      if (!level)
        Usage("--log.level must be debug, info, warn or error, got '" + value +
              "'");
      f.log_level = *level;
    } else if (name == "--test.token-backoff") {
      // The first wait after a refused token; later waits double, up to 4x.
      auto backoff = ParseDuration(value);
      if (!backoff || backoff->count() <= 0)
        Usage("--test.token-backoff must be a duration, got '" + value + "'");
      f.org.tokens.min_backoff = *backoff;
      f.org.tokens.max_backoff = *backoff * 4;
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

// What the endpoints serve, from the exporter. The web layer knows nothing
// of the CMDB.
WebHandlers Handlers(Exporter& exporter, const std::string& telemetry_path) {
  WebHandlers h;
  h.metrics = [&exporter](bool gzip) { return exporter.Exposition(gzip); };
  h.landing_page = [&exporter, telemetry_path] {
    return exporter.LandingPage(telemetry_path);
  };
  h.ready = [&exporter] { return exporter.Ready(); };
  h.status = [&exporter] { return exporter.StatusText(); };
  h.reload = [&exporter] { return exporter.Reload(); };
  return h;
}

int Once(Exporter& exporter) {
  const bool ok = exporter.PollOnce();
  for (const auto& chunk : exporter.Exposition(false)) std::cout << *chunk;
  std::cout.flush();
  return ok ? 0 : 1;
}

// An error while loading goes to stderr for the check modes and to the log
// otherwise.
void ReportLoadError(const Flags& flags, const std::string& what,
                     const std::string& error) {
  if (flags.config_check) {
    std::cerr << error << "\n";
  } else {
    LogError("cannot load " + what, {{"err", error}});
  }
}

// Loads the config and the web config into flags; false after an error.
bool Load(Flags& flags, Config& config) {
  try {
    config = LoadConfig(flags.config_file);
  } catch (const ConfigError& e) {
    ReportLoadError(flags, "config", e.what());
    return false;
  }
  if (flags.web_config_file.empty()) return true;
  try {
    flags.web.web_config = LoadWebConfig(flags.web_config_file);
    CheckWebConfig(*flags.web.web_config);
  } catch (const WebConfigError& e) {
    ReportLoadError(flags, "web config", e.what());
    return false;
  }
  return true;
}

// --config.check and --config.check.online, once the files have loaded.
int Check(const Flags& flags, const Config& config) {
  std::cout << flags.config_file << ": OK, " << Exporter::CountQueries(config)
            << " queries";
  if (config.orgs.size() > 1 || !config.orgs[0].name.empty()) {
    std::cout << " in " << config.orgs.size() << " orgs";
  }
  std::cout << "\n";
  if (!flags.web_config_file.empty()) {
    std::cout << flags.web_config_file << ": OK\n";
  }
  if (!flags.config_check_online) return 0;
  bool ok = true;
  for (const OrgConfig& org : config.orgs) {
    if (!org.name.empty()) std::cout << "org " << org.name << ":\n";
    ok = CheckOnline(org.cloudaware, org.queries, config.max_label_value_length,
                     std::cout) &&
         ok;
  }
  return ok ? 0 : 1;
}

// --config.discover, once the config has loaded.
int RunDiscover(const Flags& flags, const Config& config) {
  if (config.orgs.size() != 1) {
    std::cerr << "--config.discover needs a config with one org, "
              << flags.config_file << " has " << config.orgs.size() << "\n";
    return 1;
  }
  return Discover(config.orgs[0].cloudaware, flags.config_file,
                  flags.discover_file, flags.discover_max_calls, std::cerr)
             ? 0
             : 1;
}

// Serves until SIGINT or SIGTERM; SIGHUP reloads. signals are blocked in
// every thread, so only sigwait sees them.
int Serve(const Flags& flags, Exporter& exporter, const sigset_t& signals) {
  WebServer web(flags.web, Handlers(exporter, flags.web.telemetry_path));
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
      web.Reload();  // each part logs its own refusal
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
  if (!Load(flags, config)) return 1;
  if (!flags.discover_file.empty()) return RunDiscover(flags, config);
  if (flags.config_check) return Check(flags, config);

  // Before any thread starts, so that only sigwait sees them.
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
  Exporter exporter(flags.config_file, std::move(config), store.get(),
                    flags.org);
  if (flags.once) return Once(exporter);
  return Serve(flags, exporter, signals);
}

}  // namespace
}  // namespace cloudaware_exporter

int main(int argc, char** argv) { return cloudaware_exporter::Run(argc, argv); }
