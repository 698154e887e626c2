// Fuzzes the config loader. ConfigError is the expected answer to bad input;
// anything else escaping, a crash, a hang or a sanitizer report is a bug.
// A config that loads must also load back from its RedactedYaml() dump and
// dump the same, as RedactedYaml() promises.
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "exporter/config/config.h"

namespace {

using cloudaware_exporter::Config;
using cloudaware_exporter::ConfigError;
using cloudaware_exporter::EnvLookup;
using cloudaware_exporter::ParseConfig;
using cloudaware_exporter::RedactedYaml;

// Relative client_secret_file and tls.ca_file paths resolve against the
// config's directory: one of the fuzzer's own, holding the two files the
// seeds name, so that good seeds load and nothing of the repository is read.
// It is kept, not removed at exit: libFuzzer often leaves through _Exit().
std::string* config_file = nullptr;

const EnvLookup& Env() {
  static const EnvLookup env =
      [](const std::string& name) -> std::optional<std::string> {
    static const std::map<std::string, std::string> vars = {
        {"CLOUDAWARE_URL", "https://acme.my.salesforce.com"},
        {"CLOUDAWARE_CLIENT_ID", "3MVG9exporter"},
        {"CLOUDAWARE_CLIENT_SECRET", "hunter2-SECRET"},
        {"CLOUDAWARE_CLIENT_SECRET_FILE", "client_secret"},
        {"MAX_CONCURRENCY", "8"},
    };
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
  return env;
}

[[noreturn]] void Broken(const char* problem, const std::string& dump,
                         const std::string& detail) {
  std::fprintf(stderr, "RedactedYaml: %s\n--- dump\n%s--- then\n%s\n", problem,
               dump.c_str(), detail.c_str());
  __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const auto dir =
      std::filesystem::temp_directory_path() / "cloudaware_config_fuzzer";
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "client_secret") << "file-SECRET\n";
  std::ofstream(dir / "ca.pem") << "-----BEGIN CERTIFICATE-----\n";
  config_file = new std::string((dir / "cloudaware_exporter.yml").string());
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view yaml(reinterpret_cast<const char*>(data), size);
  Config config;
  try {
    config = ParseConfig(yaml, *config_file, Env());
  } catch (const ConfigError&) {
    return 0;
  }
  const std::string dump = RedactedYaml(config);
  std::string again;
  try {
    again = RedactedYaml(ParseConfig(dump, *config_file, Env()));
  } catch (const ConfigError& e) {
    Broken("the dump does not load back", dump, e.what());
  }
  if (again != dump) Broken("the dump loads back differently", dump, again);
  return 0;
}
