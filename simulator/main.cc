// cmdb_simulator: serves the fake Cloudaware CMDB API until SIGINT/SIGTERM.
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include "exporter/base/duration.h"
#include "simulator/inventory.h"
#include "simulator/simulator.h"

namespace {

constexpr char kUsage[] = R"(usage: cmdb_simulator [flags]

  --listen=HOST:PORT            where to listen (default 127.0.0.1:8443; port 0 picks one)
  --tls-cert=FILE --tls-key=FILE
                                serve HTTPS with this certificate and key
  --client-id=ID --client-secret=S
                                the credentials the token endpoint accepts
  --records=N --seed=S          generate N records (default 10000, seed 1)
  --deleted-share=F             share of resources marked deleted (default 0.1)
  --inventory=FILE.json         load the inventory from a file instead
  --write-inventory=FILE.json   write the inventory to a file and exit
  --token-idle-timeout=DURATION sessions expire after this long unused (default 2h)
  --daily-limit=N               daily API allocation (default 100000)
  --daily-used=N                calls already spent today (default 0)
  --instance-url=URL            instance_url in token responses (default: from Host)
  --api-versions=MIN-MAX        supported API versions (default 31-68; older ones are retired)
  --aggregate-overflow=error|truncate
                                behaviour of aggregate results over 2,000 rows
  --no-run-as-user              the app has no Run As user: every token request fails
  --reuse-tokens                answer token requests with the live token
  --faults=JSON|@FILE           faults to inject from the start (see README.md)
  --port-file=FILE              write the chosen port to FILE once listening
)";

bool Flag(const std::string& arg, const std::string& name, std::string& value) {
  std::string prefix = "--" + name + "=";
  if (arg.rfind(prefix, 0) != 0) return false;
  value = arg.substr(prefix.size());
  return true;
}

[[noreturn]] void Die(const std::string& message) {
  std::cerr << "cmdb_simulator: " << message << "\n";
  std::exit(2);
}

long long Integer(const std::string& flag, const std::string& v) {
  char* end = nullptr;
  long long n = std::strtoll(v.c_str(), &end, 10);
  if (v.empty() || *end != '\0' || n < 0)
    Die(flag + " needs a non-negative integer, got '" + v + "'");
  return n;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) Die("cannot read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

int main(int argc, char** argv) {
  using cmdb_simulator::Inventory;
  cmdb_simulator::SimulatorOptions options;
  options.port = 8443;
  cmdb_simulator::GenerateOptions gen;
  std::string inventory_file, write_inventory, port_file;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i], v;
    if (a == "--help" || a == "-h") {
      std::cout << kUsage;
      return 0;
    } else if (Flag(a, "listen", v)) {
      size_t colon = v.rfind(':');
      if (colon == std::string::npos)
        Die("--listen needs HOST:PORT, got '" + v + "'");
      options.host = v.substr(0, colon);
      options.port = static_cast<int>(Integer("--listen", v.substr(colon + 1)));
    } else if (Flag(a, "tls-cert", v)) {
      options.tls_cert_file = v;
    } else if (Flag(a, "tls-key", v)) {
      options.tls_key_file = v;
    } else if (Flag(a, "client-id", v)) {
      options.client_id = v;
    } else if (Flag(a, "client-secret", v)) {
      options.client_secret = v;
    } else if (Flag(a, "records", v)) {
      gen.records = static_cast<size_t>(Integer("--records", v));
      if (gen.records < 10) Die("--records needs at least 10");
    } else if (Flag(a, "seed", v)) {
      gen.seed = static_cast<uint64_t>(Integer("--seed", v));
    } else if (Flag(a, "deleted-share", v)) {
      gen.deleted_share = std::atof(v.c_str());
      if (gen.deleted_share < 0 || gen.deleted_share > 1)
        Die("--deleted-share needs 0..1");
    } else if (Flag(a, "inventory", v)) {
      inventory_file = v;
    } else if (Flag(a, "write-inventory", v)) {
      write_inventory = v;
    } else if (Flag(a, "token-idle-timeout", v)) {
      auto d = cloudaware_exporter::ParseDuration(v);
      if (!d)
        Die("--token-idle-timeout needs a duration like 30s, 5m or 2h, got '" +
            v + "'");
      options.token_idle_timeout = *d;
    } else if (Flag(a, "daily-limit", v)) {
      options.daily_limit = Integer("--daily-limit", v);
    } else if (Flag(a, "daily-used", v)) {
      options.daily_used = Integer("--daily-used", v);
    } else if (Flag(a, "instance-url", v)) {
      options.instance_url = v;
    } else if (Flag(a, "api-versions", v)) {
      size_t dash = v.find('-');
      if (dash == std::string::npos)
        Die("--api-versions needs MIN-MAX, got '" + v + "'");
      options.min_api_version =
          static_cast<int>(Integer("--api-versions", v.substr(0, dash)));
      options.max_api_version =
          static_cast<int>(Integer("--api-versions", v.substr(dash + 1)));
    } else if (Flag(a, "aggregate-overflow", v)) {
      if (v != "error" && v != "truncate")
        Die("--aggregate-overflow is error or truncate");
      options.aggregate_overflow = v;
    } else if (a == "--no-run-as-user") {
      options.run_as_user = false;
    } else if (a == "--reuse-tokens") {
      options.reuse_tokens = true;
    } else if (Flag(a, "faults", v)) {
      std::string text = !v.empty() && v[0] == '@' ? ReadFile(v.substr(1)) : v;
      options.faults = nlohmann::json::parse(text, nullptr, false);
      if (options.faults.is_discarded()) Die("--faults is not valid JSON");
    } else if (Flag(a, "port-file", v)) {
      port_file = v;
    } else {
      Die("unknown flag '" + a + "' (see --help)");
    }
  }

  try {
    if (!inventory_file.empty()) {
      auto doc =
          nlohmann::json::parse(ReadFile(inventory_file), nullptr, false);
      if (doc.is_discarded()) Die(inventory_file + " is not valid JSON");
      options.inventory =
          std::make_shared<const Inventory>(Inventory::FromJson(doc));
    } else {
      options.inventory =
          std::make_shared<const Inventory>(Inventory::Generate(gen));
    }
    if (!write_inventory.empty()) {
      std::ofstream out(write_inventory);
      out << options.inventory->ToJson().dump() << "\n";
      if (!out) Die("cannot write " + write_inventory);
      std::cout << "wrote " << options.inventory->TotalRecords()
                << " records to " << write_inventory << "\n";
      return 0;
    }
  } catch (const std::exception& e) {
    Die(std::string(inventory_file.empty() ? "inventory" : inventory_file) +
        ": " + e.what());
  }

  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  // Blocked before any thread starts, so only sigwait below receives them.
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  size_t records = options.inventory->TotalRecords();
  try {
    cmdb_simulator::Simulator sim(std::move(options));
    sim.Start();
    if (!port_file.empty()) std::ofstream(port_file) << sim.port() << "\n";
    std::cout << "cmdb_simulator listening on " << sim.base_url() << " with "
              << records << " records" << std::endl;
    int sig = 0;
    sigwait(&signals, &sig);
    std::cout << "cmdb_simulator stopping" << std::endl;
    sim.Stop();
  } catch (const std::exception& e) {
    Die(e.what());
  }
  return 0;
}
