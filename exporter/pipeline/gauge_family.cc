#include "exporter/pipeline/gauge_family.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>

namespace cloudaware_exporter {
namespace {

// The longest double TextSerializer writes: -1.234567890123457e-308.
constexpr size_t kMaxValueChars = 24;

// The value at pos in key, moving pos past it. The length is LEB128, 7 bits
// a byte, low bits first, so a value under 128 bytes costs one byte more.
std::string_view NextValue(std::string_view key, size_t& pos) {
  size_t length = 0;
  for (int shift = 0; pos < key.size() && shift < 64; shift += 7) {
    const auto byte = static_cast<unsigned char>(key[pos++]);
    length |= static_cast<size_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) break;
  }
  // Only AppendLabelValue writes keys; the clamp keeps a broken one from
  // reading past its end all the same.
  length = std::min(length, key.size() - pos);
  const std::string_view value = key.substr(pos, length);
  pos += length;
  return value;
}

void AppendEscapedHelp(std::string& out, std::string_view help) {
  for (char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
}

void AppendEscapedLabelValue(std::string& out, std::string_view value) {
  for (char c : value) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
}

// TextSerializer sets the stream's precision to max_digits10 - 1 and writes
// `out << value`, which is printf's %.16g; to_chars with that precision is
// the same, and needs no locale.
void AppendValue(std::string& out, double value) {
  if (std::isnan(value)) {
    out += "Nan";
  } else if (std::isinf(value)) {
    out += value < 0 ? "-Inf" : "+Inf";
  } else {
    char buffer[kMaxValueChars + 8];
    const auto [end, ec] = std::to_chars(
        buffer, buffer + sizeof buffer, value, std::chars_format::general,
        std::numeric_limits<double>::max_digits10 - 1);
    out.append(buffer, end);
  }
}

void AppendSeries(std::string& out, const GaugeFamily& family,
                  const GaugeFamily::Series& series) {
  out += family.name;
  if (!family.label_names.empty()) {
    out += '{';
    size_t pos = 0;
    for (size_t i = 0; i < family.label_names.size(); ++i) {
      if (i > 0) out += ',';
      out += family.label_names[i];
      out += "=\"";
      AppendEscapedLabelValue(out, NextValue(series.key, pos));
      out += '"';
    }
    out += '}';
  }
  out += ' ';
  AppendValue(out, series.value);
  out += '\n';
}

// Enough room for the text unless label values need escapes, so that a
// large family's text is written into one allocation, not grown by copies.
size_t TextSizeBound(const GaugeFamily& family) {
  size_t per_series = family.name.size() + 2 + 1 + kMaxValueChars + 1;
  for (const std::string& name : family.label_names) {
    per_series += name.size() + 4;  // =", " and a comma
  }
  size_t size = 2 * (family.name.size() + family.help.size()) + 32;
  for (const GaugeFamily::Series& series : family.series) {
    size += per_series + series.key.size();
  }
  return size;
}

}  // namespace

void AppendLabelValue(std::string& key, std::string_view value) {
  size_t length = value.size();
  while (length >= 0x80) {
    key += static_cast<char>((length & 0x7f) | 0x80);
    length >>= 7;
  }
  key += static_cast<char>(length);
  key += value;
}

std::string SeriesKey(const std::vector<std::string>& values) {
  std::string key;
  for (const std::string& value : values) AppendLabelValue(key, value);
  return key;
}

std::vector<std::string_view> LabelValues(std::string_view key) {
  std::vector<std::string_view> values;
  for (size_t pos = 0; pos < key.size();) {
    values.push_back(NextValue(key, pos));
  }
  return values;
}

FamilyText RenderText(const GaugeFamily& family) {
  FamilyText out;
  if (family.series.empty()) return out;
  std::string& text = out.text;
  text.reserve(TextSizeBound(family));
  // TextSerializer leaves the HELP line out when there is no help.
  if (!family.help.empty()) {
    text += "# HELP " + family.name + " ";
    AppendEscapedHelp(text, family.help);
    text += '\n';
  }
  text += "# TYPE " + family.name + " gauge\n";
  out.header_size = text.size();
  for (const GaugeFamily::Series& series : family.series) {
    AppendSeries(text, family, series);
  }
  return out;
}

}  // namespace cloudaware_exporter
