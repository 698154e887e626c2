#include "exporter/pipeline/samples.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

#include "exporter/base/text.h"
#include "exporter/cmdb/api_error.h"

namespace cloudaware_exporter {
namespace {

using nlohmann::json;

// Long values and long column lists would turn one log line into a page.
constexpr size_t kMaxShownChars = 64;
constexpr size_t kMaxShownColumns = 10;

// A result column as the config names it, split once per metric rather than
// once per record.
struct Column {
  std::string name;
  std::vector<std::string> path;  // the dotted segments; empty if no dot
};

Column MakeColumn(const std::string& name) {
  Column column{name, {}};
  if (name.find('.') != std::string::npos) {
    size_t start = 0;
    while (true) {
      size_t dot = name.find('.', start);
      column.path.push_back(name.substr(start, dot - start));
      if (dot == std::string::npos) break;
      start = dot + 1;
    }
  }
  return column;
}

// The API returns an alias spelled as the query wrote it, but SOQL treats
// aliases (and field names) case-insensitively, so "COUNT(Id) N" must still
// match a config that says value: n.
const json* FindKey(const json& object, const std::string& key) {
  if (!object.is_object()) return nullptr;
  auto it = object.find(key);
  if (it != object.end()) return &*it;
  for (auto item = object.begin(); item != object.end(); ++item) {
    if (EqualsIgnoreCase(item.key(), key)) return &*item;
  }
  return nullptr;
}

bool IsAggregateRow(const json& record) {
  const json* attributes = FindKey(record, "attributes");
  if (attributes == nullptr) return false;
  const json* type = FindKey(*attributes, "type");
  return type != nullptr && type->is_string() &&
         type->get_ref<const std::string&>() == "AggregateResult";
}

// The column's value in the record; nullptr when it is absent. A null
// relationship object (a lookup that is empty, or whose target was deleted)
// ends the walk with that null, so it reads as a null leaf.
const json* Find(const json& record, const Column& column) {
  // Field names and aliases never contain a dot, so a dotted column can only
  // be a path.
  if (column.path.empty()) return FindKey(record, column.name);
  const json* node = FindKey(record, column.path.front());
  if (node == nullptr) {
    // Salesforce flattens an unaliased relationship field in GROUP BY to its
    // leaf name (Account.Name -> "Name"). Only aggregate rows get this
    // fallback: in a plain row the leaf may be the object's own field.
    return IsAggregateRow(record) ? FindKey(record, column.path.back())
                                  : nullptr;
  }
  for (size_t i = 1; i < column.path.size(); ++i) {
    if (node->is_null()) return node;
    node = FindKey(*node, column.path[i]);
    if (node == nullptr) return nullptr;
  }
  return node;
}

std::string Truncate(std::string text) {
  if (text.size() > kMaxShownChars) {
    text.resize(kMaxShownChars);
    text += "...";
  }
  return text;
}

// json::dump() recurses once per level of nesting, and a broken or hostile
// endpoint can send a value nested 100,000 deep in a few hundred kilobytes:
// render only the first levels, and only as much as is shown.
void Render(const json& value, int depth, std::string& out) {
  if (!value.is_structured()) {
    out += value.dump(-1, ' ', false, json::error_handler_t::replace);
    return;
  }
  const bool object = value.is_object();
  out += object ? '{' : '[';
  if (depth == 0 && !value.empty()) out += "...";
  for (auto it = value.begin(); depth > 0 && it != value.end(); ++it) {
    if (out.size() > kMaxShownChars) break;
    if (it != value.begin()) out += ',';
    if (object) {
      out +=
          json(it.key()).dump(-1, ' ', false, json::error_handler_t::replace);
      out += ':';
    }
    Render(*it, depth - 1, out);
  }
  out += object ? '}' : ']';
}

std::string Shown(const json& value) {
  if (value.is_string()) {
    return "\"" + Truncate(value.get_ref<const std::string&>()) + "\"";
  }
  std::string out;
  Render(value, 8, out);
  return Truncate(std::move(out));
}

std::string ColumnsOf(const json& record) {
  if (!record.is_object()) return "the record is " + Shown(record);
  std::string names;
  size_t count = 0;
  for (auto item = record.begin(); item != record.end(); ++item) {
    if (item.key() == "attributes") continue;
    if (count < kMaxShownColumns) {
      names += count == 0 ? "" : ", ";
      names += item.key();
    }
    ++count;
  }
  if (count == 0) return "it has no columns";
  if (count > kMaxShownColumns) {
    names += ", and " + std::to_string(count - kMaxShownColumns) + " more";
  }
  return "it has " + names;
}

[[noreturn]] void Fail(const std::string& message) {
  throw CmdbError("parse", message);
}

std::string FormatDouble(double value) {
  char buffer[32];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
  return std::string(buffer, end);
}

// Label values: numbers must read the same however the API serialised them,
// so 3.0 and 3 both give "3".
std::string LabelValue(const json& value) {
  switch (value.type()) {
    case json::value_t::string:
      return value.get_ref<const std::string&>();
    case json::value_t::null:
      return std::string();
    case json::value_t::boolean:
      return value.get<bool>() ? "true" : "false";
    case json::value_t::number_integer:
      return std::to_string(value.get<int64_t>());
    case json::value_t::number_unsigned:
      return std::to_string(value.get<uint64_t>());
    case json::value_t::number_float:
      return FormatDouble(value.get<double>());
    default:
      return std::string();
  }
}

bool ParseDigits(std::string_view text, size_t pos, size_t count, int* out) {
  if (pos + count > text.size()) return false;
  int value = 0;
  for (size_t i = pos; i < pos + count; ++i) {
    if (text[i] < '0' || text[i] > '9') return false;
    value = value * 10 + (text[i] - '0');
  }
  *out = value;
  return true;
}

// Salesforce writes datetimes as 2026-01-01T00:00:00.000+0000; other sources
// (and hand-made test data) use Z or +hh:mm. A Date field is a bare
// 2026-01-01, taken as midnight UTC. Written by hand because std::chrono::parse
// is missing from GCC 12 and a regex per record would be too slow.
std::optional<double> ParseDateTime(std::string_view text) {
  int year, month, day;
  if (!ParseDigits(text, 0, 4, &year) || text.size() < 10 || text[4] != '-' ||
      !ParseDigits(text, 5, 2, &month) || text[7] != '-' ||
      !ParseDigits(text, 8, 2, &day)) {
    return std::nullopt;
  }
  const std::chrono::year_month_day date{std::chrono::year{year},
                                         std::chrono::month(unsigned(month)),
                                         std::chrono::day(unsigned(day))};
  if (!date.ok()) return std::nullopt;
  const double days = static_cast<double>(
      std::chrono::sys_days(date).time_since_epoch().count());
  if (text.size() == 10) return days * 86400;

  int hour, minute, second;
  if (text[10] != 'T' || !ParseDigits(text, 11, 2, &hour) || text.size() < 19 ||
      text[13] != ':' || !ParseDigits(text, 14, 2, &minute) ||
      text[16] != ':' || !ParseDigits(text, 17, 2, &second) || hour > 23 ||
      minute > 59 || second > 59) {
    return std::nullopt;
  }
  size_t pos = 19;
  double fraction = 0;
  if (pos < text.size() && text[pos] == '.') {
    // One division of whole numbers, so that .125 is exactly 0.125; digits
    // past nanoseconds cannot show in a double anyway.
    int64_t units = 0;
    double scale = 1;
    const size_t first = ++pos;
    for (; pos < text.size() && text[pos] >= '0' && text[pos] <= '9'; ++pos) {
      if (pos - first < 9) {
        units = units * 10 + (text[pos] - '0');
        scale *= 10;
      }
    }
    if (pos == first) return std::nullopt;
    fraction = static_cast<double>(units) / scale;
  }
  int offset_minutes = 0;
  if (pos < text.size() && text[pos] == 'Z') {
    ++pos;
  } else if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
    const int sign = text[pos] == '-' ? -1 : 1;
    int offset_hours, offset_mins;
    if (!ParseDigits(text, pos + 1, 2, &offset_hours)) return std::nullopt;
    pos += 3;
    if (pos < text.size() && text[pos] == ':') ++pos;
    if (!ParseDigits(text, pos, 2, &offset_mins) || offset_hours > 23 ||
        offset_mins > 59) {
      return std::nullopt;
    }
    pos += 2;
    offset_minutes = sign * (offset_hours * 60 + offset_mins);
  } else {
    // Without a zone the instant is unknown; guessing UTC would be wrong by
    // hours without anyone noticing.
    return std::nullopt;
  }
  if (pos != text.size()) return std::nullopt;
  return days * 86400 + hour * 3600 + minute * 60 + second -
         offset_minutes * 60 + fraction;
}

// nullopt when the value cannot be a sample.
std::optional<double> SampleValue(const json& value) {
  switch (value.type()) {
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
    case json::value_t::number_float:
      return value.get<double>();
    case json::value_t::boolean:
      return value.get<bool>() ? 1.0 : 0.0;
    case json::value_t::string: {
      const std::string& text = value.get_ref<const std::string&>();
      if (auto number = ParseNumber(text)) return number;
      return ParseDateTime(text);
    }
    default:
      return std::nullopt;
  }
}

// One label of every series of a metric, in the name order of its family's
// label_names. column < 0 marks a constant label.
struct LabelSlot {
  std::string name;
  std::string const_value;
  int column = -1;
};

std::string DescribeLabels(const std::vector<std::string>& names,
                           std::string_view key) {
  const std::vector<std::string_view> values = LabelValues(key);
  std::string text = "{";
  for (size_t i = 0; i < names.size() && i < values.size(); ++i) {
    if (i > 0) text += ",";
    text += names[i] + "=\"" + Truncate(std::string(values[i])) + "\"";
  }
  return text + "}";
}

// FNV-1a over a series key. Keys say each value's length, so ("ab", "c")
// and ("a", "bc") differ already.
uint64_t HashKey(const std::string& key) {
  uint64_t hash = 14695981039346656037ull;
  for (unsigned char c : key) hash = (hash ^ c) * 1099511628211ull;
  return hash;
}

// Sorting (hash, position) pairs finds duplicates with 16 bytes per series
// for as long as it runs, and no second copy of the keys; a hash set of
// 100,000 keys spends its time on cache misses. Positions with equal hashes
// are compared in full, so a collision cannot cause a false report.
void CheckUniqueLabels(const GaugeFamily& family,
                       const std::vector<size_t>& record_of) {
  const std::vector<GaugeFamily::Series>& series = family.series;
  std::vector<std::pair<uint64_t, size_t>> hashes;
  hashes.reserve(series.size());
  for (size_t i = 0; i < series.size(); ++i) {
    hashes.emplace_back(HashKey(series[i].key), i);
  }
  std::sort(hashes.begin(), hashes.end());
  // Of all equal pairs, report the one whose second series comes first: the
  // earliest record that repeats another, and the record it repeats. Within
  // a run of equal hashes the positions ascend.
  std::optional<std::pair<size_t, size_t>> duplicate;
  auto same = [&](size_t a, size_t b) {
    return series[hashes[a].second].key == series[hashes[b].second].key;
  };
  for (size_t begin = 0, end = 0; begin < hashes.size(); begin = end) {
    while (end < hashes.size() && hashes[end].first == hashes[begin].first) {
      ++end;
    }
    for (size_t i = begin + 1; i < end; ++i) {
      size_t j = begin;
      while (j < i && !same(j, i)) ++j;
      if (j == i) continue;
      if (!duplicate || hashes[i].second < duplicate->second) {
        duplicate = {hashes[j].second, hashes[i].second};
      }
      break;  // later pairs in this run repeat later records
    }
  }
  if (duplicate) {
    Fail(family.name + ": records " +
         std::to_string(record_of[duplicate->first]) + " and " +
         std::to_string(record_of[duplicate->second]) +
         " give the same labels " +
         DescribeLabels(family.label_names, series[duplicate->first].key) +
         "; label the column that tells them apart");
  }
}

// The names of a metric's labels and constant labels, sorted, and the
// config's value for each constant one.
std::vector<LabelSlot> SlotsOf(const MetricConfig& metric) {
  std::vector<LabelSlot> slots;
  for (const auto& [name, column] : metric.labels) {
    slots.push_back({name, "", static_cast<int>(slots.size())});
  }
  for (const auto& [name, value] : metric.const_labels) {
    slots.push_back({name, value, -1});
  }
  std::sort(
      slots.begin(), slots.end(),
      [](const LabelSlot& a, const LabelSlot& b) { return a.name < b.name; });
  return slots;
}

// The series of one metric without records: SELECT COUNT()'s number is
// totalSize and there are no records to take labels from.
GaugeFamily TotalSizeFamily(const MetricConfig& metric, int64_t total_size) {
  GaugeFamily family{metric.name, metric.help, {}, {}};
  std::string key;
  for (const LabelSlot& slot : SlotsOf(metric)) {
    if (slot.column >= 0) continue;
    family.label_names.push_back(slot.name);
    AppendLabelValue(key, slot.const_value);
  }
  family.series.push_back({std::move(key), static_cast<double>(total_size)});
  return family;
}

}  // namespace

// One metric's columns, split once, and its series so far.
struct SeriesBuilder::Metric {
  const MetricConfig* config;
  std::vector<Column> columns;
  std::vector<LabelSlot> slots;
  Column value_column;
  GaugeFamily family;
  std::vector<size_t> record_of;  // series -> record, for error messages
  // The metric's first bad record; the later ones are not looked at.
  std::optional<CmdbError> error;
  // The key being built, reused so that each series' own key is allocated
  // once at its final size.
  std::string key;

  explicit Metric(const MetricConfig& metric)
      : config(&metric),
        slots(SlotsOf(metric)),
        value_column(MakeColumn(metric.value)),
        family{metric.name, metric.help, {}, {}} {
    for (const auto& label : metric.labels) {
      columns.push_back(MakeColumn(label.second));
    }
    for (const LabelSlot& slot : slots) family.label_names.push_back(slot.name);
  }

  void Add(const json& record, size_t index, size_t max_length) {
    const MetricConfig& metric = *config;
    // Only built on the error path: this runs once per record.
    auto where = [&] {
      return metric.name + ": record " + std::to_string(index);
    };

    std::optional<double> value = metric.constant;
    if (!value) {
      const json* raw = Find(record, value_column);
      if (raw == nullptr) {
        Fail(where() + " has no column \"" + metric.value +
             "\" for the value (" + ColumnsOf(record) + ")");
      }
      if (raw->is_null()) return;
      value = SampleValue(*raw);
      if (!value) {
        Fail(where() + " column \"" + metric.value +
             "\" is not a number: " + Shown(*raw));
      }
    }

    key.clear();
    for (const LabelSlot& slot : slots) {
      if (slot.column < 0) {
        AppendLabelValue(key, slot.const_value);
        continue;
      }
      const Column& column = columns[slot.column];
      const json* found = Find(record, column);
      if (found != nullptr && (found->is_object() || found->is_array())) {
        Fail(where() + " column \"" + column.name + "\" for label " +
             slot.name + " holds an " + found->type_name() +
             ", not a value: " + Shown(*found));
      }
      AppendLabelValue(key, found == nullptr
                                ? std::string()
                                : CapLength(LabelValue(*found), max_length));
    }
    family.series.push_back({std::string(key), *value});
    record_of.push_back(index);
  }
};

SeriesBuilder::SeriesBuilder(const QueryConfig& query,
                             size_t max_label_value_length)
    : max_length_(max_label_value_length) {
  metrics_.reserve(query.metrics.size());
  for (const MetricConfig& metric : query.metrics)
    metrics_.emplace_back(metric);
}

SeriesBuilder::~SeriesBuilder() = default;
SeriesBuilder::SeriesBuilder(SeriesBuilder&&) noexcept = default;

void SeriesBuilder::Fold(const json& record) {
  const size_t index = rows_++;
  for (Metric& metric : metrics_) {
    // A metric without a value column takes nothing from records.
    if (metric.config->value.empty() || metric.error) continue;
    try {
      metric.Add(record, index, max_length_);
    } catch (const CmdbError& e) {
      // Kept for Finish: a later page's failure, or an earlier metric's,
      // is what the query reports, as when records were mapped after the
      // last page. The metric's series are no use any more (and `= {}`
      // would keep their memory).
      metric.error = e;
      metric.family.series = std::vector<GaugeFamily::Series>();
      metric.record_of = std::vector<size_t>();
    }
  }
}

void SeriesBuilder::Reserve(size_t records) {
  for (Metric& metric : metrics_) {
    if (metric.config->value.empty() || metric.error) continue;
    metric.family.series.reserve(metric.family.series.size() + records);
    metric.record_of.reserve(metric.record_of.size() + records);
  }
}

std::vector<GaugeFamily> SeriesBuilder::Finish(int64_t total_size) {
  std::vector<GaugeFamily> families;
  families.reserve(metrics_.size());
  for (Metric& metric : metrics_) {
    if (metric.config->value.empty()) {
      families.push_back(TotalSizeFamily(*metric.config, total_size));
      continue;
    }
    if (metric.error) throw *metric.error;
    CheckUniqueLabels(metric.family, metric.record_of);
    metric.record_of = {};
    families.push_back(std::move(metric.family));
  }
  metrics_.clear();
  return families;
}

std::string CapLength(std::string value, size_t max_length) {
  if (value.size() <= max_length) return value;
  uint32_t hash = 2166136261u;
  for (unsigned char c : value) hash = (hash ^ c) * 16777619u;
  char suffix[10];
  std::snprintf(suffix, sizeof suffix, "~%08x", hash);
  size_t keep = max_length > 9 ? max_length - 9 : 0;
  // Cut before a UTF-8 continuation byte, never inside a character.
  while (keep > 0 && (static_cast<unsigned char>(value[keep]) & 0xC0) == 0x80)
    --keep;
  value.resize(keep);
  return value + suffix;
}

std::vector<GaugeFamily> ToFamilies(const QueryConfig& query,
                                    const QueryResult& result,
                                    size_t max_label_value_length) {
  SeriesBuilder builder(query, max_label_value_length);
  builder.Reserve(result.records.size());
  for (const json& record : result.records) builder.Fold(record);
  return builder.Finish(result.total_size);
}

namespace {

// The keys of the label sets expected_values asks for: the listed values in
// every combination, with each combination of the unlisted labels the
// result has.
std::vector<std::string> ExpectedKeys(const MetricConfig& metric,
                                      const GaugeFamily& family,
                                      size_t max_length) {
  const std::vector<std::string>& names = family.label_names;
  auto position = [&names](const std::string& name) {
    return static_cast<size_t>(std::find(names.begin(), names.end(), name) -
                               names.begin());
  };
  // One label set's values, by position in names.
  std::vector<std::string> values(names.size());
  for (const auto& [name, value] : metric.const_labels) {
    const size_t at = position(name);
    if (at == names.size()) return {};  // not the metric's family
    values[at] = value;
  }
  std::vector<std::pair<size_t, std::vector<std::string>>> listed;
  std::vector<size_t> unlisted;
  for (const auto& label : metric.labels) {
    // Not a structured binding: clang 14 cannot capture one in a lambda.
    const std::string& name = label.first;
    const size_t at = position(name);
    if (at == names.size()) return {};
    auto it = std::find_if(
        metric.expected_values.begin(), metric.expected_values.end(),
        [&name](const auto& entry) { return entry.first == name; });
    if (it == metric.expected_values.end()) {
      unlisted.push_back(at);
      continue;
    }
    std::vector<std::string> choices;
    for (const std::string& value : it->second) {
      choices.push_back(CapLength(value, max_length));
    }
    // The config never lists no values; a hand-made one gets no fill.
    if (choices.empty()) return {};
    listed.emplace_back(at, std::move(choices));
  }

  std::set<std::vector<std::string>> rests;
  if (unlisted.empty()) rests.insert(std::vector<std::string>());
  for (const GaugeFamily::Series& series : family.series) {
    if (unlisted.empty()) break;
    const std::vector<std::string_view> present = LabelValues(series.key);
    std::vector<std::string> rest;
    for (size_t at : unlisted) {
      rest.emplace_back(at < present.size() ? present[at] : "");
    }
    rests.insert(std::move(rest));
  }

  std::vector<std::string> out;
  for (const std::vector<std::string>& rest : rests) {
    for (size_t k = 0; k < unlisted.size(); ++k) values[unlisted[k]] = rest[k];
    // An odometer over the listed values: pick[k] indexes listed[k].
    std::vector<size_t> pick(listed.size(), 0);
    while (true) {
      for (size_t k = 0; k < listed.size(); ++k) {
        values[listed[k].first] = listed[k].second[pick[k]];
      }
      out.push_back(SeriesKey(values));
      size_t k = 0;
      while (k < pick.size() && ++pick[k] == listed[k].second.size()) {
        pick[k++] = 0;
      }
      if (k == pick.size()) break;
    }
  }
  return out;
}

// Remembers the label sets present now, forgets those not seen within
// keep_seen_for, and keeps at most about max_series of the most recent.
void Remember(std::map<std::string, SeenLabels::Clock::time_point>& seen,
              const std::set<std::string>& present,
              std::chrono::milliseconds keep_seen_for, size_t max_series,
              SeenLabels::Clock::time_point now) {
  for (const std::string& key : present) seen[key] = now;
  std::erase_if(seen, [&](const auto& entry) {
    return now - entry.second > keep_seen_for;
  });
  if (seen.size() <= max_series || max_series == 0) return;
  // A label set that comes and goes with a changing value (a resource name,
  // say) would otherwise pile up for the whole window.
  std::vector<SeenLabels::Clock::time_point> times;
  times.reserve(seen.size());
  for (const auto& entry : seen) times.push_back(entry.second);
  auto oldest_kept =
      times.begin() + static_cast<std::ptrdiff_t>(times.size() - max_series);
  std::nth_element(times.begin(), oldest_kept, times.end());
  const auto cut = *oldest_kept;
  std::erase_if(seen, [cut](const auto& entry) { return entry.second < cut; });
}

}  // namespace

size_t ZeroFill(std::vector<GaugeFamily>& families, const QueryConfig& query,
                SeenLabels& memory, SeenLabels::Clock::time_point now,
                size_t max_label_value_length) {
  const size_t max_series =
      static_cast<size_t>(std::max<int64_t>(0, query.max_series));
  size_t total = 0;
  for (const GaugeFamily& family : families) total += family.series.size();
  size_t left_out = 0;
  for (size_t m = 0; m < query.metrics.size() && m < families.size(); ++m) {
    const MetricConfig& metric = query.metrics[m];
    const bool keep_seen = metric.keep_seen_for.count() > 0;
    // A metric without a value column is a single totalSize series that is
    // always there.
    if (metric.value.empty() ||
        (metric.expected_values.empty() && !keep_seen)) {
      continue;
    }
    GaugeFamily& family = families[m];
    std::set<std::string> present;
    for (const GaugeFamily::Series& series : family.series) {
      present.insert(series.key);
    }
    std::vector<std::string> wanted;
    if (!metric.expected_values.empty()) {
      wanted = ExpectedKeys(metric, family, max_label_value_length);
    }
    if (keep_seen) {
      auto& seen = memory.metrics[metric.name];
      Remember(seen, present, metric.keep_seen_for, max_series, now);
      for (const auto& [key, when] : seen) wanted.push_back(key);
    }
    for (std::string& key : wanted) {
      if (!present.insert(key).second) continue;
      if (total >= max_series) {
        ++left_out;
        continue;
      }
      family.series.push_back({std::move(key), 0});
      ++total;
    }
  }
  return left_out;
}

size_t CapSeries(std::vector<GaugeFamily>& families, int64_t max_series) {
  size_t left = static_cast<size_t>(std::max<int64_t>(0, max_series));
  size_t dropped = 0;
  for (GaugeFamily& family : families) {
    size_t keep = std::min(left, family.series.size());
    dropped += family.series.size() - keep;
    family.series.resize(keep);
    left -= keep;
  }
  return dropped;
}

}  // namespace cloudaware_exporter
