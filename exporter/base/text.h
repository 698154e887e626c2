// Small text helpers shared by the parsers of config, web config, API
// answers and HTTP headers. ASCII only: the names they compare (SOQL
// aliases, header names, content codings) are ASCII.
#ifndef CLOUDAWARE_EXPORTER_TEXT_H_
#define CLOUDAWARE_EXPORTER_TEXT_H_

#include <algorithm>
#include <charconv>
#include <cmath>
#include <optional>
#include <string_view>

namespace cloudaware_exporter {

inline char AsciiLower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

inline bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return AsciiLower(x) == AsciiLower(y);
         });
}

// Without leading and trailing spaces and tabs (HTTP's optional whitespace).
inline std::string_view TrimBlanks(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

// The whole text as a finite number ("412", "3.5", "1e3"); nullopt for
// anything else, "inf" and "nan" included.
inline std::optional<double> ParseNumber(std::string_view text) {
  double value = 0;
  auto [end, ec] =
      std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() ||
      !std::isfinite(value)) {
    return std::nullopt;
  }
  return value;
}

}  // namespace cloudaware_exporter

#endif  // CLOUDAWARE_EXPORTER_TEXT_H_
