// One org of a config, wired: its HTTP client, token source and query
// client (OrgConnection), and the poller that runs its queries on them
// (OrgPipeline). The exporter, the online check, the benchmarks and the
// tests build orgs here, so that the wiring and its policy are written once.
#ifndef CLOUDAWARE_EXPORTER_APP_ORG_PIPELINE_H_
#define CLOUDAWARE_EXPORTER_APP_ORG_PIPELINE_H_

#include <chrono>
#include <cstddef>
#include <optional>

#include "exporter/cmdb/cmdb_client.h"
#include "exporter/cmdb/http_client.h"
#include "exporter/cmdb/token_source.h"
#include "exporter/config/config.h"
#include "exporter/metrics/self_metrics.h"
#include "exporter/pipeline/collector.h"
#include "exporter/pipeline/poller.h"
#include "exporter/pipeline/result_store.h"

namespace cloudaware_exporter {

// Timings the config does not set: the defaults suit a real org; tests
// shorten them.
struct OrgOptions {
  TokenSource::Options tokens;
  // Its limit_pause is replaced by limit_pause if set, else by LimitPause()
  // of the org.
  CmdbClient::Options client;
  std::optional<std::chrono::milliseconds> limit_pause;
  EnvLookup env = ProcessEnv();
};

// After REQUEST_LIMIT_EXCEEDED, wait for the next cycle: the shortest query
// interval of the org.
std::chrono::milliseconds LimitPause(const Config& config,
                                     const OrgConfig& org);

struct OrgConnection {
  OrgConnection(const CloudawareConfig& cloudaware, SelfMetrics& metrics,
                const OrgOptions& options = {});

  HttpClient http;
  TokenSource tokens;
  CmdbClient client;
};

// Everything one org of a config determines. A reload builds new ones and
// retires the old; the self metrics and the collector outlive them.
struct OrgPipeline {
  // store may be null (no --storage.path).
  OrgPipeline(const Config& config, size_t org, SelfMetrics& metrics,
              Collector& collector, ResultStore* store,
              OrgOptions options = {});
  // Aborts requests in flight first, so a hung API cannot delay the stop.
  void Stop();

  const OrgConfig org;
  OrgConnection api;
  Poller poller;
};

}  // namespace cloudaware_exporter

#endif  // CLOUDAWARE_EXPORTER_APP_ORG_PIPELINE_H_
