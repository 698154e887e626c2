#include "exporter/config/settings.h"

#include <algorithm>
#include <cstdio>

namespace cloudaware_exporter {

Escaped Escape(const std::string& s) {
  std::string out;
  for (char c : s) out += c == '$' ? std::string("$$") : std::string(1, c);
  return {out};
}

// yaml-cpp writes a value with a trailing carriage return plain, and it
// reads back without it; double quotes escape every control character.
YAML::Emitter& operator<<(YAML::Emitter& out, const Escaped& value) {
  bool control = std::any_of(value.text.begin(), value.text.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f;
  });
  if (control) out << YAML::DoubleQuoted;
  return out << value.text;
}

std::string ListWithOr(const std::vector<std::string_view>& items,
                       std::string_view quote) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += i + 1 == items.size() ? " or " : ", ";
    out.append(quote).append(items[i]).append(quote);
  }
  return out;
}

std::string FormatShare(double share) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%g%%", share * 100);
  return buffer;
}

std::string FormatBytes(int64_t bytes) {
  for (auto [suffix, size] :
       {std::pair{"GiB", int64_t{1} << 30}, std::pair{"MiB", int64_t{1} << 20},
        std::pair{"KiB", int64_t{1} << 10}}) {
    if (bytes > 0 && bytes % size == 0) {
      return std::to_string(bytes / size) + suffix;
    }
  }
  return std::to_string(bytes);
}

}  // namespace cloudaware_exporter
