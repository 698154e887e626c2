// How fast the simulator answers an aggregate query over a large inventory,
// end to end over HTTP, so exporter benchmarks measure the exporter and not
// the fake. Prints figures; not part of the test run.
//   simulator_query_bench [records=1000100] [runs=20]
// 1,000,100 records are 100 accounts, subscriptions and projects plus
// exactly 1,000,000 EC2 instances.
#include <httplib.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <vector>

#include "simulator/inventory.h"
#include "simulator/simulator.h"

namespace {

double Seconds(std::chrono::steady_clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

}  // namespace

int main(int argc, char** argv) {
  using Clock = std::chrono::steady_clock;
  size_t records = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 1000100;
  int runs = argc > 2 ? std::atoi(argv[2]) : 20;

  cmdb_simulator::GenerateOptions gen;
  gen.records = records;
  gen.only_objects = {"CA10__CaAwsInstance__c"};
  auto start = Clock::now();
  auto inventory = std::make_shared<const cmdb_simulator::Inventory>(
      cmdb_simulator::Inventory::Generate(gen));
  double gen_s = Seconds(Clock::now() - start);
  size_t ec2 = inventory->FindTable("CA10__CaAwsInstance__c")->rows();

  cmdb_simulator::SimulatorOptions options;
  options.inventory = inventory;
  cmdb_simulator::Simulator sim(options);
  sim.Start();
  httplib::Client client("127.0.0.1", sim.port());
  client.set_read_timeout(60, 0);
  auto token_res = client.Post("/services/oauth2/token",
                               "grant_type=client_credentials&client_id=sim-"
                               "client-id&client_secret=sim-client-secret",
                               "application/x-www-form-urlencoded");
  if (!token_res || token_res->status != 200) {
    std::fprintf(stderr, "token request failed\n");
    return 1;
  }
  std::string token =
      nlohmann::json::parse(token_res->body)["access_token"].get<std::string>();

  const std::vector<std::pair<const char*, std::string>> queries = {
      {"group by state",
       "SELECT CA10__stateName__c state, COUNT(Id) n FROM "
       "CA10__CaAwsInstance__c "
       "WHERE CA10__disappearanceTime__c = null GROUP BY CA10__stateName__c "
       "LIMIT 2000"},
      {"group by account (relationship)",
       "SELECT CA10__account__r.CA10__accountId__c acct, COUNT(Id) n FROM "
       "CA10__CaAwsInstance__c WHERE CA10__disappearanceTime__c = null GROUP "
       "BY "
       "CA10__account__r.CA10__accountId__c LIMIT 2000"},
      {"count()",
       "SELECT COUNT() FROM CA10__CaAwsInstance__c WHERE "
       "CA10__disappearanceTime__c = null"},
  };
  std::printf(
      "inventory: %zu records, %zu in CA10__CaAwsInstance__c, generated in "
      "%.2f s\n",
      inventory->TotalRecords(), ec2, gen_s);
  std::printf("%-34s %8s %8s %8s %8s\n", "query (HTTP round trip)", "min_ms",
              "p50_ms", "max_ms", "rows");
  for (const auto& [name, soql] : queries) {
    std::vector<double> ms;
    size_t rows = 0;
    for (int i = 0; i < runs; ++i) {
      auto t0 = Clock::now();
      auto res = client.Get(("/services/data/v66.0/query?q=" +
                             httplib::detail::encode_query_param(soql))
                                .c_str(),
                            {{"Authorization", "Bearer " + token}});
      ms.push_back(Seconds(Clock::now() - t0) * 1000);
      if (!res || res->status != 200) {
        std::fprintf(stderr, "%s failed: %s\n", name,
                     res ? res->body.c_str() : "no response");
        return 1;
      }
      rows = nlohmann::json::parse(res->body)["totalSize"].get<size_t>();
    }
    std::sort(ms.begin(), ms.end());
    std::printf("%-34s %8.1f %8.1f %8.1f %8zu\n", name, ms.front(),
                ms[ms.size() / 2], ms.back(), rows);
  }
  sim.Stop();
  return 0;
}
