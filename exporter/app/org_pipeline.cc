#include "exporter/app/org_pipeline.h"

#include <algorithm>
#include <utility>

namespace cloudaware_exporter {

std::chrono::milliseconds LimitPause(const Config& config,
                                     const OrgConfig& org) {
  if (org.queries.empty()) return config.default_interval;
  std::chrono::milliseconds pause = org.queries[0].interval;
  for (const QueryConfig& q : org.queries) pause = std::min(pause, q.interval);
  return pause;
}

OrgConnection::OrgConnection(const CloudawareConfig& cloudaware,
                             SelfMetrics& metrics, const OrgOptions& options)
    : http(cloudaware, options.env),
      tokens(cloudaware, http, metrics, options.tokens),
      client(cloudaware, tokens, http, metrics, options.client) {}

namespace {

OrgOptions WithLimitPause(OrgOptions options, const Config& config,
                          const OrgConfig& org) {
  options.client.limit_pause =
      options.limit_pause.value_or(LimitPause(config, org));
  return options;
}

}  // namespace

OrgPipeline::OrgPipeline(const Config& config, size_t i, SelfMetrics& metrics,
                         Collector& collector, ResultStore* store,
                         OrgOptions options)
    : org(config.orgs[i]),
      api(org.cloudaware, metrics,
          WithLimitPause(std::move(options), config, org)),
      poller(config, api.client, collector, metrics, store, i) {}

void OrgPipeline::Stop() {
  api.http.Stop();
  poller.Stop();
}

}  // namespace cloudaware_exporter
