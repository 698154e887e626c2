// The application: one OrgPipeline per org of the config, the collector
// they publish into, each org's self metrics, and what the endpoints ask of
// them. The one place that wires orgs, orders their queries on /metrics,
// reloads the config and joins the orgs' state for /status and "/".
//
// Threads: Start() runs each org's poller on threads of its own; scrape
// threads call Exposition(), LandingPage(), Ready() and StatusText() at any
// time, and see either the old or the new set of orgs during a Reload().
#ifndef CLOUDAWARE_EXPORTER_APP_EXPORTER_H_
#define CLOUDAWARE_EXPORTER_APP_EXPORTER_H_

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "exporter/app/org_pipeline.h"
#include "exporter/config/config.h"
#include "exporter/metrics/self_metrics.h"
#include "exporter/pipeline/collector.h"
#include "exporter/pipeline/result_store.h"

namespace cloudaware_exporter {

class Exporter {
 public:
  // store may be null; a reload keeps using it. Reload() reads config_file.
  Exporter(std::string config_file, Config config, ResultStore* store,
           OrgOptions options = {});
  ~Exporter();
  Exporter(const Exporter&) = delete;
  Exporter& operator=(const Exporter&) = delete;

  // Runs every query of every org once, now; false if any failed.
  bool PollOnce();
  void Start();
  void Stop();
  // Returns "" or why the new config was refused (the old one stays).
  std::string Reload();

  // The whole of /metrics: every org's query series, then the self metrics.
  std::vector<std::shared_ptr<const std::string>> Exposition(bool gzip);
  std::string LandingPage(const std::string& telemetry_path);
  // Stays true across reloads once every query has run: the old results
  // keep being served.
  bool Ready();
  std::string StatusText();

  static size_t CountQueries(const Config& config);

 private:
  void Install(Config config);
  std::vector<std::shared_ptr<OrgPipeline>> Pipelines();

  const std::string config_file_;
  ResultStore* const store_;
  const OrgOptions options_;
  const std::chrono::system_clock::time_point start_time_ =
      std::chrono::system_clock::now();
  Collector collector_;
  std::mutex reload_mu_;  // one reload or stop at a time
  std::mutex mu_;         // guards config_, pipelines_ and metrics_
  std::shared_ptr<const Config> config_;
  std::vector<std::shared_ptr<OrgPipeline>> pipelines_;
  // By org name; shared with scrapes that are rendering them.
  std::map<std::string, std::shared_ptr<SelfMetrics>> metrics_;
  std::atomic<bool> ready_once_{false};
};

}  // namespace cloudaware_exporter

#endif  // CLOUDAWARE_EXPORTER_APP_EXPORTER_H_
