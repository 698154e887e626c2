// Serves a saved exposition through prometheus-cpp's own Exposer (civetweb),
// so bench/scrape.sh can compare the exporter's /metrics with the stock
// prometheus-cpp path on the same series. Prints figures' inputs, not
// figures; not part of the test run.
//   exposer_bench FILE HOST:PORT [THREADS=2]
// Every sample of FILE becomes a gauge with the same name, labels, value and
// HELP text (self metrics, counters and histogram lines included), so the
// series count matches the exporter's. Port 0 picks one; once serving it
// prints "ready HOST:PORT" and runs until SIGINT or SIGTERM.
#include <prometheus/exposer.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>

namespace {

[[noreturn]] void Die(const std::string& message) {
  std::fprintf(stderr, "exposer_bench: %s\n", message.c_str());
  std::exit(2);
}

// Label values and HELP text escape backslash and newline; label values also
// the double quote.
std::string Unescape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size()) {
      char c = s[++i];
      out += c == 'n' ? '\n' : c;
    } else {
      out += s[i];
    }
  }
  return out;
}

struct Sample {
  std::string name;
  prometheus::Labels labels;
  double value = 0;
};

// name{a="x",b="y"} value [timestamp]
bool ParseSample(std::string_view line, Sample& sample) {
  size_t end = line.find_first_of("{ ");
  if (end == std::string_view::npos || end == 0) return false;
  sample.name = line.substr(0, end);
  sample.labels.clear();
  size_t i = end;
  if (line[i] == '{') {
    ++i;
    while (i < line.size() && line[i] != '}') {
      size_t eq = line.find("=\"", i);
      if (eq == std::string_view::npos) return false;
      std::string key(line.substr(i, eq - i));
      size_t j = eq + 2;
      while (j < line.size() && line[j] != '"') j += line[j] == '\\' ? 2 : 1;
      if (j >= line.size()) return false;
      sample.labels[key] = Unescape(line.substr(eq + 2, j - eq - 2));
      i = j + 1;
      if (i < line.size() && line[i] == ',') ++i;
    }
    if (i >= line.size()) return false;
    ++i;
  }
  while (i < line.size() && line[i] == ' ') ++i;
  std::string value(line.substr(i, line.find(' ', i) - i));
  char* parsed_end = nullptr;
  sample.value = std::strtod(value.c_str(), &parsed_end);
  return !value.empty() && *parsed_end == '\0';
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3 || argc > 4) {
    std::fprintf(stderr, "usage: exposer_bench FILE HOST:PORT [THREADS=2]\n");
    return 2;
  }
  const std::string address = argv[2];
  const size_t threads = argc > 3 ? std::strtoul(argv[3], nullptr, 10) : 2;

  std::ifstream in(argv[1]);
  if (!in) Die(std::string("cannot read ") + argv[1]);
  auto registry = std::make_shared<prometheus::Registry>();
  std::map<std::string, std::string> help;
  std::map<std::string, prometheus::Family<prometheus::Gauge>*> families;
  size_t series = 0, lineno = 0;
  Sample sample;
  for (std::string line; std::getline(in, line);) {
    ++lineno;
    std::string_view view = line;
    if (view.starts_with("# HELP ")) {
      view.remove_prefix(7);
      size_t space = view.find(' ');
      if (space != std::string_view::npos) {
        help[std::string(view.substr(0, space))] =
            Unescape(view.substr(space + 1));
      }
      continue;
    }
    if (view.empty() || view[0] == '#') continue;
    if (!ParseSample(view, sample)) {
      Die(std::string(argv[1]) + ":" + std::to_string(lineno) +
          ": not a sample line");
    }
    auto& family = families[sample.name];
    if (family == nullptr) {
      family = &prometheus::BuildGauge()
                    .Name(sample.name)
                    .Help(help[sample.name])
                    .Register(*registry);
    }
    family->Add(sample.labels).Set(sample.value);
    ++series;
  }

  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  // Blocked before civetweb starts its threads, so only sigwait gets them.
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  try {
    prometheus::Exposer exposer(address, threads);
    exposer.RegisterCollectable(registry);
    auto ports = exposer.GetListeningPorts();
    std::string host = address.substr(0, address.rfind(':'));
    std::printf("series %zu in %zu families\n", series, families.size());
    std::printf("ready %s:%d\n", host.c_str(), ports.empty() ? 0 : ports[0]);
    std::fflush(stdout);
    int sig = 0;
    sigwait(&signals, &sig);
  } catch (const std::exception& e) {
    Die(std::string("cannot serve on ") + address + ": " + e.what());
  }
  return 0;
}
