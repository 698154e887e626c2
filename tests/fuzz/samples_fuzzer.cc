// Fuzzes the mapping from a query result to series, and the text format
// written from them: the path from a CMDB answer to /metrics. The input is a
// query response body ({"totalSize": ..., "records": [...]}); a few fixed
// queries, shaped like those of the example config, read it. CmdbError is
// the expected answer to records that do not fit a query.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "exporter/cmdb/cmdb_client.h"
#include "exporter/config/config.h"
#include "exporter/pipeline/gauge_family.h"
#include "exporter/pipeline/samples.h"

namespace cloudaware_exporter {
namespace {

using Pairs = std::vector<std::pair<std::string, std::string>>;

MetricConfig Metric(std::string name, std::string value, Pairs labels,
                    Pairs const_labels) {
  MetricConfig metric;
  metric.name = std::move(name);
  metric.help = "Result of the fuzzed query.";
  metric.value = std::move(value);
  metric.labels = std::move(labels);
  metric.const_labels = std::move(const_labels);
  return metric;
}

QueryConfig Query(std::string name, int64_t max_series,
                  std::vector<MetricConfig> metrics) {
  QueryConfig query;
  query.name = std::move(name);
  query.max_series = max_series;
  query.metrics = std::move(metrics);
  return query;
}

const std::vector<QueryConfig>& Queries() {
  static const std::vector<QueryConfig> queries = {
      // GROUP BY with aliases, and a relationship field without one.
      Query("by_state", 10000,
            {Metric("cmdb_instances", "n",
                    {{"state", "state"},
                     {"account", "CA10__account__r.CA10__accountId__c"}},
                    {{"cloud", "aws"}})}),
      // Zero-fill: expected values with an unlisted label, and a memory.
      Query("filled", 6, {[] {
              MetricConfig metric =
                  Metric("cmdb_filled", "n",
                         {{"state", "state"}, {"account", "account"}},
                         {{"cloud", "aws"}});
              metric.expected_values = {
                  {"state", {"running", "stopped", std::string(40, 's')}}};
              metric.keep_seen_for = std::chrono::hours(1);
              return metric;
            }()}),
      // SELECT COUNT(), next to a metric that reads records.
      Query("count", 2,
            {Metric("cmdb_count", "", {}, {{"cloud", "azure"}, {"a", "b"}}),
             Metric("cmdb_by_region", "expr0", {{"region", "Region"}}, {})}),
      // Plain rows: a datetime value, nested relationships, several
      // metrics over the same records.
      Query("rows", 3,
            {Metric("cmdb_launch_time", "CA10__launchTime__c",
                    {{"id", "Id"}, {"profile", "Owner.Profile.Name"}}, {}),
             Metric("cmdb_account_n", "CA10__account__r.n",
                    {{"id", "Id"}, {"name", "Name"}}, {{"cloud", "gcp"}})}),
  };
  return queries;
}

// The contract of ToFamilies, ZeroFill and CapSeries that the collector and
// the text format rely on.
void Check(const QueryConfig& query, const QueryResult& result,
           size_t max_length) {
  std::vector<GaugeFamily> families = ToFamilies(query, result, max_length);
  if (families.size() != query.metrics.size()) __builtin_trap();
  size_t real = 0;
  for (const auto& family : families) real += family.series.size();
  SeenLabels memory;
  const size_t left_out =
      ZeroFill(families, query, memory, SeenLabels::Clock::now(), max_length);
  size_t before = 0;
  for (size_t i = 0; i < families.size(); ++i) {
    const MetricConfig& metric = query.metrics[i];
    const GaugeFamily& family = families[i];
    if (family.name != metric.name) __builtin_trap();
    if (metric.value.empty() &&
        (family.series.size() != 1 ||
         family.series[0].value != static_cast<double>(result.total_size))) {
      __builtin_trap();
    }
    const auto& names = family.label_names;
    if (names.size() != metric.labels.size() * !metric.value.empty() +
                            metric.const_labels.size() ||
        !std::is_sorted(names.begin(), names.end())) {
      __builtin_trap();
    }
    for (const GaugeFamily::Series& series : family.series) {
      const auto values = LabelValues(series.key);
      if (values.size() != names.size()) __builtin_trap();
      for (const auto& value : values) {
        if (value.size() > max_length) __builtin_trap();
      }
    }
    before += family.series.size();
  }

  // Fills only take room the result left.
  if (before > std::max(real, static_cast<size_t>(query.max_series)) ||
      (left_out > 0 && before < static_cast<size_t>(query.max_series))) {
    __builtin_trap();
  }
  size_t dropped = CapSeries(families, query.max_series);
  size_t after = 0;
  for (const auto& family : families) after += family.series.size();
  if (after + dropped != before ||
      after != std::min(before, static_cast<size_t>(query.max_series))) {
    __builtin_trap();
  }
  for (const GaugeFamily& family : families) {
    if (!family.series.empty() && RenderText(family).text.empty()) {
      __builtin_trap();
    }
  }
}

}  // namespace
}  // namespace cloudaware_exporter

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cloudaware_exporter;
  nlohmann::json doc = nlohmann::json::parse(data, data + size, nullptr, false);
  if (!doc.is_object()) return 0;
  QueryResult result;
  if (auto total = doc.find("totalSize");
      total != doc.end() && total->is_number_integer()) {
    result.total_size = total->get<int64_t>();
  }
  if (auto records = doc.find("records");
      records != doc.end() && records->is_array()) {
    // Moved, not copied: copying a json value recurses into it, which the
    // exporter never does with records.
    result.records.assign(std::make_move_iterator(records->begin()),
                          std::make_move_iterator(records->end()));
  }
  for (const QueryConfig& query : Queries()) {
    // 16 is the smallest max_label_value_length the config accepts.
    for (size_t max_length : {size_t{16}, size_t{1024}}) {
      try {
        Check(query, result, max_length);
      } catch (const CmdbError& e) {
        if (e.code() != "parse") __builtin_trap();
      }
    }
  }
  return 0;
}
