// An environment for the code under test, instead of the process's: the
// exporter reads ${VAR} in configs, proxies and SSL_CERT_FILE through an
// EnvLookup.
#ifndef CLOUDAWARE_EXPORTER_TESTS_UTIL_FAKE_ENV_H_
#define CLOUDAWARE_EXPORTER_TESTS_UTIL_FAKE_ENV_H_

#include <map>
#include <optional>
#include <string>
#include <utility>

#include "exporter/config/config.h"

namespace test_util {

// Exactly these variables, no others (none: no proxy from whoever runs the
// tests).
inline cloudaware_exporter::EnvLookup FakeEnv(
    std::map<std::string, std::string> vars = {}) {
  return [vars = std::move(vars)](
             const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

}  // namespace test_util

#endif  // CLOUDAWARE_EXPORTER_TESTS_UTIL_FAKE_ENV_H_
