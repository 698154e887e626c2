// One poll cycle of Q queries against the simulator with injected latency,
// one query per call and with composite batching: wall time of the cycle
// and API calls it spent. Prints figures; not part of the test run.
//   poll_bench [latency_ms=50] [max_concurrency=4] [cycles=3] [Q...]
// Default Q: 10 100 1000. Each query is its own aggregate over the EC2
// table, so every subrequest is real work for the simulator.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "exporter/app/org_pipeline.h"
#include "exporter/base/log.h"
#include "exporter/cmdb/cmdb_client.h"
#include "exporter/cmdb/http_client.h"
#include "exporter/cmdb/token_source.h"
#include "exporter/config/config.h"
#include "exporter/metrics/self_metrics.h"
#include "exporter/pipeline/collector.h"
#include "exporter/pipeline/poller.h"
#include "simulator/inventory.h"
#include "simulator/simulator.h"

namespace ce = cloudaware_exporter;

namespace {

std::string ConfigYaml(const std::string& url, int queries, int concurrency,
                       bool composite) {
  std::string yaml = "cloudaware:\n  url: " + url +
                     "\n  client_id: sim-client-id\n"
                     "  client_secret: sim-client-secret\n"
                     "  max_concurrency: " +
                     std::to_string(concurrency) +
                     "\n  batching: " + (composite ? "composite" : "none") +
                     "\ndefaults: {interval: 1h, stale_after: 3h}\nqueries:\n";
  for (int i = 0; i < queries; ++i) {
    const std::string k = std::to_string(i);
    yaml += "  - name: q" + k +
            "\n    soql: SELECT CA10__stateName__c state, COUNT(Id) n FROM "
            "CA10__CaAwsInstance__c WHERE CA10__averageCpuOneWeek__c > " +
            std::to_string(i % 100) +
            " GROUP BY CA10__stateName__c LIMIT 2000\n"
            "    metrics:\n      - name: bench_q" +
            k + "\n        value: n\n        labels: [state]\n";
  }
  return yaml;
}

struct Figures {
  double min_s = 1e9, median_s = 0, max_s = 0;
  int calls = 0;     // counted API calls per cycle (the last one)
  int requests = 0;  // HTTP requests per cycle, token excluded
  bool all_ok = true;
};

Figures Measure(cmdb_simulator::Simulator& sim, int queries, int concurrency,
                bool composite, int cycles) {
  const ce::Config config = ce::ParseConfig(
      ConfigYaml(sim.base_url(), queries, concurrency, composite), "bench.yml",
      [](const std::string&) { return std::nullopt; });
  ce::SelfMetrics metrics("bench", "bench");
  ce::Collector collector;
  ce::OrgOptions options;
  options.env = [](const std::string&) { return std::nullopt; };
  ce::OrgPipeline org(config, 0, metrics, collector, nullptr, options);
  ce::Poller& poller = org.poller;
  org.api.tokens.Get();  // the token is not part of a cycle

  Figures f;
  std::vector<double> times;
  for (int c = 0; c < cycles; ++c) {
    sim.ClearRequestLog();
    const auto start = std::chrono::steady_clock::now();
    f.all_ok = poller.PollOnce() && f.all_ok;
    times.push_back(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count());
    f.calls = 0;
    f.requests = 0;
    for (const auto& e : sim.RequestLog()) {
      if (e["endpoint"] == "token") continue;
      f.calls += e["cost"].get<int>();
      ++f.requests;
    }
  }
  std::sort(times.begin(), times.end());
  f.min_s = times.front();
  f.max_s = times.back();
  f.median_s = times[times.size() / 2];
  http.Stop();
  return f;
}

}  // namespace

int main(int argc, char** argv) {
  const int latency_ms = argc > 1 ? std::atoi(argv[1]) : 50;
  const int concurrency = argc > 2 ? std::atoi(argv[2]) : 4;
  const int cycles = argc > 3 ? std::max(1, std::atoi(argv[3])) : 3;
  std::vector<int> sizes;
  for (int i = 4; i < argc; ++i) sizes.push_back(std::atoi(argv[i]));
  if (sizes.empty()) sizes = {10, 100, 1000};
  ce::ConfigureLogging(ce::LogLevel::kError, ce::LogFormat::kLogfmt);

  cmdb_simulator::GenerateOptions gen;
  gen.records = 20000;
  cmdb_simulator::SimulatorOptions options;
  options.inventory = std::make_shared<const cmdb_simulator::Inventory>(
      cmdb_simulator::Inventory::Generate(gen));
  options.daily_limit = 100000000;
  // Every query costs latency_ms of server time, alone or inside /composite
  // (where subrequests run one after another, as Salesforce runs them).
  options.faults = nlohmann::json{
      {"endpoint", "query"}, {"type", "latency"}, {"ms", latency_ms}};
  cmdb_simulator::Simulator sim(options);
  sim.Start();

  std::printf(
      "poll cycle: %d ms latency per query, max_concurrency %d, median of "
      "%d cycles\n\n",
      latency_ms, concurrency, cycles);
  std::printf(
      "| queries | batching | cycle min s | cycle median s | cycle max s | "
      "API calls per cycle | all succeeded |\n|---|---|---|---|---|---|---|\n");
  for (int q : sizes) {
    for (bool composite : {false, true}) {
      Figures f = Measure(sim, q, concurrency, composite, cycles);
      std::printf("| %d | %s | %.3f | %.3f | %.3f | %d | %s |\n", q,
                  composite ? "composite" : "none", f.min_s, f.median_s,
                  f.max_s, f.calls, f.all_ok ? "yes" : "NO");
      std::fflush(stdout);
    }
  }
  sim.Stop();
  return 0;
}
