// The CMDB simulator over HTTPS for tests, with a throwaway CA made by
// simulator/gen-certs.sh (the test target defines GEN_CERTS_SCRIPT).
#ifndef CLOUDAWARE_EXPORTER_TESTS_TLS_SIMULATOR_H_
#define CLOUDAWARE_EXPORTER_TESTS_TLS_SIMULATOR_H_

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "simulator/simulator.h"

namespace test_util {

// Writes ca.pem, server.pem and server.key (for 127.0.0.1 and localhost),
// and client.pem and client.key (a client certificate from the same CA),
// into dir; false if the script failed.
inline bool MakeCerts(const std::filesystem::path& dir) {
  return std::system(
             (std::string(GEN_CERTS_SCRIPT) + " " + dir.string()).c_str()) == 0;
}

// Starts the simulator over HTTPS with the certificate MakeCerts put in certs.
inline std::unique_ptr<cmdb_simulator::Simulator> StartTlsSimulator(
    cmdb_simulator::SimulatorOptions options,
    const std::filesystem::path& certs) {
  options.tls_cert_file = (certs / "server.pem").string();
  options.tls_key_file = (certs / "server.key").string();
  auto sim = std::make_unique<cmdb_simulator::Simulator>(std::move(options));
  sim->Start();
  return sim;
}

}  // namespace test_util

#endif  // CLOUDAWARE_EXPORTER_TESTS_TLS_SIMULATOR_H_
