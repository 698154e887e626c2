#include "exporter/app/exporter.h"

#include <algorithm>
#include <utility>

#include "exporter/app/landing_page.h"
#include "exporter/app/status_json.h"
#include "exporter/base/log.h"

namespace cloudaware_exporter {

Exporter::Exporter(std::string config_file, Config config, ResultStore* store,
                   OrgOptions options)
    : config_file_(std::move(config_file)),
      store_(store),
      options_(std::move(options)) {
  Install(std::move(config));
}

Exporter::~Exporter() { Stop(); }

bool Exporter::PollOnce() {
  bool ok = true;
  for (const auto& p : Pipelines()) ok = p->poller.PollOnce() && ok;
  return ok;
}

void Exporter::Start() {
  for (const auto& p : Pipelines()) p->poller.Start();
}

void Exporter::Stop() {
  std::lock_guard<std::mutex> lock(reload_mu_);
  for (const auto& p : Pipelines()) p->Stop();
}

std::string Exporter::Reload() {
  std::lock_guard<std::mutex> lock(reload_mu_);
  Config config;
  try {
    config = LoadConfig(config_file_, options_.env);
  } catch (const ConfigError& e) {
    LogError("reload failed, keeping the current config", {{"err", e.what()}});
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

std::vector<std::shared_ptr<const std::string>> Exporter::Exposition(
    bool gzip) {
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

std::string Exporter::LandingPage(const std::string& telemetry_path) {
  std::vector<std::shared_ptr<OrgPipeline>> pipelines;
  std::map<std::string, std::shared_ptr<SelfMetrics>> metrics;
  {
    std::lock_guard<std::mutex> lock(mu_);
    pipelines = pipelines_;
    metrics = metrics_;
  }
  std::vector<OrgSummary> orgs;
  for (const auto& p : pipelines) {
    orgs.push_back({.name = p->org.name,
                    .api_up = metrics.at(p->org.name)->up(),
                    .token = p->api.tokens.Status(),
                    .api = p->api.client.Budget(),
                    .queries = p->poller.Status()});
  }
  return RenderLandingPage(CLOUDAWARE_VERSION, telemetry_path, orgs);
}

bool Exporter::Ready() {
  if (ready_once_.load()) return true;
  for (const auto& p : Pipelines()) {
    if (!p->poller.ready()) return false;
  }
  return true;
}

// One entry per org; a single-org config's is named "".
std::string Exporter::StatusText() {
  std::shared_ptr<const Config> config;
  std::vector<std::shared_ptr<OrgPipeline>> pipelines;
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
                           .token = p->api.tokens.Status(),
                           .api = p->api.client.Budget(),
                           .ready = ready_once_.load() || p->poller.ready(),
                           .queries = p->poller.Status()});
  }
  return StatusJson(status).dump(2) + "\n";
}

size_t Exporter::CountQueries(const Config& config) {
  size_t n = 0;
  for (const OrgConfig& org : config.orgs) n += org.queries.size();
  return n;
}

namespace {

// An org's self metrics: kept from before for an org that stays, so that
// counters carry on, less the series of its queries that left the config.
std::map<std::string, std::shared_ptr<SelfMetrics>> CarryMetrics(
    const Config& config,
    const std::map<std::string, std::shared_ptr<SelfMetrics>>& before,
    const std::vector<std::shared_ptr<OrgPipeline>>& old_pipelines) {
  std::map<std::string, std::shared_ptr<SelfMetrics>> metrics;
  for (const OrgConfig& org : config.orgs) {
    auto it = before.find(org.name);
    metrics[org.name] = it != before.end() ? it->second
                                           : std::make_shared<SelfMetrics>(
                                                 CLOUDAWARE_VERSION,
                                                 CLOUDAWARE_REVISION, org.name);
  }
  for (const auto& p : old_pipelines) {
    auto it = metrics.find(p->org.name);
    if (it == metrics.end()) continue;
    const OrgConfig& now = *std::find_if(
        config.orgs.begin(), config.orgs.end(),
        [&](const OrgConfig& org) { return org.name == p->org.name; });
    for (const QueryConfig& q : p->org.queries) {
      bool kept =
          std::any_of(now.queries.begin(), now.queries.end(),
                      [&](const QueryConfig& n) { return n.name == q.name; });
      if (!kept) it->second->RemoveQuery(q.name);
    }
  }
  return metrics;
}

}  // namespace

// The old pipelines must be stopped. /metrics lists the queries in the
// config's order, org by org.
void Exporter::Install(Config config) {
  std::map<std::string, std::shared_ptr<SelfMetrics>> metrics =
      CarryMetrics(config, metrics_, pipelines_);
  std::vector<std::string> keys;
  for (const OrgConfig& org : config.orgs) {
    for (const QueryConfig& q : org.queries)
      keys.push_back(CollectorKey(org.name, q.name));
  }
  std::vector<std::shared_ptr<OrgPipeline>> pipelines;
  for (size_t i = 0; i < config.orgs.size(); ++i) {
    pipelines.push_back(
        std::make_shared<OrgPipeline>(config, i, *metrics[config.orgs[i].name],
                                      collector_, store_, options_));
  }
  collector_.SetQueries(keys);
  std::lock_guard<std::mutex> lock(mu_);
  pipelines_ = std::move(pipelines);
  metrics_ = std::move(metrics);
  config_ = std::make_shared<const Config>(std::move(config));
}

std::vector<std::shared_ptr<OrgPipeline>> Exporter::Pipelines() {
  std::lock_guard<std::mutex> lock(mu_);
  return pipelines_;
}

}  // namespace cloudaware_exporter
