// Tables of a config section's scalar settings. A row names a key and says
// how its value is read and checked, how the dump (RedactedYaml) writes it,
// and how README's reference describes it, so that a setting is written
// down once. config_settings.cc holds the tables; they are built on first use,
// never changed afterwards, and may be read from any thread.
#ifndef CLOUDAWARE_EXPORTER_SETTINGS_H_
#define CLOUDAWARE_EXPORTER_SETTINGS_H_

#include <yaml-cpp/yaml.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "exporter/base/duration.h"
#include "exporter/config/yaml_reader.h"

namespace cloudaware_exporter {

// One key of a section whose values land in a T (CloudawareConfig, ...).
template <typename T>
struct Setting {
  std::string key;
  // For the reference: the values the key takes ("duration, at least 1s").
  std::string type;
  // As the reference shows it; empty when the key is required or has none.
  std::string default_value;
  std::string description;
  // Reads a present, non-null value. Empty when the section's own code
  // reads the key: it is required, or is checked together with other keys.
  std::function<void(const YamlReader&, const YamlReader::Item&, T&)> read;
  // Writes `key: value` into the mapping being emitted, or nothing.
  std::function<void(YAML::Emitter&, const T&)> dump;
};

template <typename T>
using Settings = std::vector<Setting<T>>;

// A config value for the dump: "$" doubled, so that ${...} is not expanded
// on loading it back.
struct Escaped {
  std::string text;
};
Escaped Escape(const std::string& s);
YAML::Emitter& operator<<(YAML::Emitter& out, const Escaped& value);

// "10%": the way a share reads back (YamlReader::Share).
std::string FormatShare(double share);
// "64MiB" when the count is a whole number of KiB, MiB or GiB, else digits.
std::string FormatBytes(int64_t bytes);

// The keys in table order, for YamlReader::Map's known-key check; they
// point into the table, which must outlive them.
template <typename T>
std::vector<std::string_view> Keys(const Settings<T>& table) {
  std::vector<std::string_view> keys;
  for (const auto& s : table) keys.push_back(s.key);
  return keys;
}

// "a, b or c", each item between quotes (none, or "`" for Markdown).
std::string ListWithOr(const std::vector<std::string_view>& items,
                       std::string_view quote = "");

// "a, b or c", for a message that lists the keys.
template <typename T>
std::string KeyList(const Settings<T>& table) {
  return ListWithOr(Keys(table));
}

// Reads, in table order, every row that has its own read and is present.
template <typename T>
void ReadSettings(const YamlReader& reader, const YamlReader::Mapping& m,
                  const Settings<T>& table, T& target) {
  for (const auto& s : table) {
    if (!s.read) continue;
    if (auto v = m.Get(s.key)) s.read(reader, *v, target);
  }
}

// A nested mapping (budget_guard, tls): its keys checked, its rows read.
template <typename T>
void ReadSection(const YamlReader& reader, const YamlReader::Item& item,
                 const Settings<T>& table, T& target) {
  ReadSettings(reader, reader.Map(item, Keys(table)), table, target);
}

template <typename T>
void DumpSettings(YAML::Emitter& out, const Settings<T>& table,
                  const T& source) {
  for (const auto& s : table) {
    if (s.dump) s.dump(out, source);
  }
}

// One Markdown table row per setting, keys written as `<prefix><key>`.
template <typename T>
std::string MarkdownRows(const std::string& prefix, const Settings<T>& table) {
  std::string out;
  for (const auto& s : table) {
    out += "| `" + prefix + s.key + "` | " + s.type + " | " +
           (s.default_value.empty() ? "" : "`" + s.default_value + "`") +
           " | " + s.description + " |\n";
  }
  return out;
}

// The rows of the common kinds. M is the member's type; the default shown
// is that of a default-constructed T.

template <typename T>
Setting<T> DurationSetting(std::string key, std::chrono::milliseconds T::*m,
                           std::chrono::milliseconds min,
                           std::string description) {
  return {key,
          "duration, at least " + FormatDuration(min),
          FormatDuration(T{}.*m),
          std::move(description),
          [m, min](const YamlReader& r, const YamlReader::Item& v, T& t) {
            t.*m = r.Duration(v, min);
          },
          [key, m](YAML::Emitter& out, const T& t) {
            out << YAML::Key << key << YAML::Value << FormatDuration(t.*m);
          }};
}

template <typename T, typename M>
Setting<T> IntegerSetting(std::string key, M T::*m, int64_t min, int64_t max,
                          std::string description) {
  std::ostringstream default_value;
  default_value << T{}.*m;
  return {key,
          "integer, " + std::to_string(min) + " to " + std::to_string(max),
          default_value.str(),
          std::move(description),
          [m, min, max](const YamlReader& r, const YamlReader::Item& v, T& t) {
            t.*m = static_cast<M>(r.Integer(v, min, max));
          },
          [key, m](YAML::Emitter& out, const T& t) {
            out << YAML::Key << key << YAML::Value << t.*m;
          }};
}

template <typename T>
Setting<T> BytesSetting(std::string key, int64_t T::*m, int64_t min,
                        int64_t max, std::string description) {
  return {key,
          "bytes, or with KiB, MiB, GiB; " + FormatBytes(min) + " to " +
              FormatBytes(max),
          FormatBytes(T{}.*m),
          std::move(description),
          [m, min, max](const YamlReader& r, const YamlReader::Item& v, T& t) {
            t.*m = r.Bytes(v, min, max);
          },
          [key, m](YAML::Emitter& out, const T& t) {
            out << YAML::Key << key << YAML::Value << t.*m;
          }};
}

template <typename T>
Setting<T> ShareSetting(std::string key, double T::*m,
                        std::string description) {
  return {key,
          "share below 100%: `10%` or `0.1`",
          FormatShare(T{}.*m),
          std::move(description),
          [m](const YamlReader& r, const YamlReader::Item& v, T& t) {
            t.*m = r.Share(v);
          },
          [key, m](YAML::Emitter& out, const T& t) {
            out << YAML::Key << key << YAML::Value << FormatShare(t.*m);
          }};
}

// M is an enum whose values are 0, 1, ... in the order of `choices`.
template <typename T, typename M>
Setting<T> ChoiceSetting(std::string key, M T::*m,
                         std::vector<std::string_view> choices,
                         std::string description) {
  return {key,
          ListWithOr(choices, "`"),
          std::string(choices[static_cast<size_t>(T{}.*m)]),
          std::move(description),
          [m, choices](const YamlReader& r, const YamlReader::Item& v, T& t) {
            t.*m = static_cast<M>(r.OneOf(v, choices));
          },
          [key, m, choices](YAML::Emitter& out, const T& t) {
            out << YAML::Key << key << YAML::Value
                << std::string(choices[static_cast<size_t>(t.*m)]);
          }};
}

template <typename T>
Setting<T> BoolSetting(std::string key, bool T::*m, std::string description) {
  return {key,
          "`true` or `false`",
          T{}.*m ? "true" : "false",
          std::move(description),
          [m](const YamlReader& r, const YamlReader::Item& v, T& t) {
            t.*m = r.Bool(v);
          },
          [key, m](YAML::Emitter& out, const T& t) {
            out << YAML::Key << key << YAML::Value << YAML::TrueFalseBool
                << t.*m;
          }};
}

// A string, dumped escaped. `read` checks and stores it; empty when the
// section's own code does.
template <typename T>
Setting<T> StringSetting(
    std::string key, std::string T::*m, std::string type,
    std::string description,
    std::function<void(const YamlReader&, const YamlReader::Item&, T&)> read) {
  return {key,
          std::move(type),
          T{}.*m,
          std::move(description),
          std::move(read),
          [key, m](YAML::Emitter& out, const T& t) {
            out << YAML::Key << key << YAML::Value << Escape(t.*m);
          }};
}

}  // namespace cloudaware_exporter

#endif  // CLOUDAWARE_EXPORTER_SETTINGS_H_
