// The CMDB simulator in-process over plain HTTP on an ephemeral port, with a
// generated inventory: for tests that are not about TLS (tls_simulator.h is).
#ifndef CLOUDAWARE_EXPORTER_TESTS_UTIL_SIMULATOR_H_
#define CLOUDAWARE_EXPORTER_TESTS_UTIL_SIMULATOR_H_

#include <memory>
#include <string>

#include "simulator/inventory.h"
#include "simulator/simulator.h"

namespace test_util {

inline std::unique_ptr<cmdb_simulator::Simulator> StartSimulator(
    int records, int seed, const std::string& client_id,
    const std::string& client_secret) {
  cmdb_simulator::GenerateOptions gen;
  gen.records = records;
  gen.seed = seed;
  cmdb_simulator::SimulatorOptions options;
  options.inventory = std::make_shared<const cmdb_simulator::Inventory>(
      cmdb_simulator::Inventory::Generate(gen));
  options.client_id = client_id;
  options.client_secret = client_secret;
  auto sim = std::make_unique<cmdb_simulator::Simulator>(options);
  sim->Start();
  return sim;
}

}  // namespace test_util

#endif  // CLOUDAWARE_EXPORTER_TESTS_UTIL_SIMULATOR_H_
