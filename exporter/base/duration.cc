#include "exporter/base/duration.h"

#include <array>
#include <cstdint>
#include <utility>

namespace cloudaware_exporter {
namespace {

constexpr std::array<std::pair<std::string_view, int64_t>, 5> kUnits = {{
    {"d", 86'400'000},
    {"h", 3'600'000},
    {"m", 60'000},
    {"s", 1'000},
    {"ms", 1},
}};

}  // namespace

std::optional<std::chrono::milliseconds> ParseDuration(std::string_view s) {
  if (s.empty()) return std::nullopt;
  int64_t total = 0;
  size_t next_unit = 0;  // units must come largest first, each once
  while (!s.empty()) {
    int64_t n = 0;
    size_t digits = 0;
    while (digits < s.size() && s[digits] >= '0' && s[digits] <= '9') {
      if (n > 1'000'000'000) return std::nullopt;
      n = n * 10 + (s[digits] - '0');
      ++digits;
    }
    if (digits == 0) return std::nullopt;
    s.remove_prefix(digits);
    // "ms" before "m": try the longer unit name first.
    size_t unit = kUnits.size();
    for (size_t i = next_unit; i < kUnits.size(); ++i) {
      const auto& name = kUnits[i].first;
      bool longer_ms = name == "m" && s.substr(0, 2) == "ms";
      if (s.substr(0, name.size()) == name && !longer_ms) unit = i;
    }
    if (unit == kUnits.size()) return std::nullopt;
    s.remove_prefix(kUnits[unit].first.size());
    total += n * kUnits[unit].second;
    next_unit = unit + 1;
  }
  return std::chrono::milliseconds(total);
}

std::string FormatDuration(std::chrono::milliseconds d) {
  int64_t ms = d.count();
  if (ms == 0) return "0s";
  std::string out;
  if (ms < 0) {
    out = "-";
    ms = -ms;
  }
  for (const auto& [name, size] : kUnits) {
    if (ms >= size) {
      out += std::to_string(ms / size) + std::string(name);
      ms %= size;
    }
  }
  return out;
}

}  // namespace cloudaware_exporter
