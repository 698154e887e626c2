// Turns one query's result into the series of the metrics its config names.
// A pure function: the most tested code of the exporter.
#ifndef CLOUDAWARE_EXPORTER_SAMPLES_H_
#define CLOUDAWARE_EXPORTER_SAMPLES_H_

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "exporter/cmdb/query_result.h"
#include "exporter/config/config.h"
#include "exporter/pipeline/gauge_family.h"

namespace cloudaware_exporter {

// One gauge family per entry of query.metrics, in config order, each with one
// series per record (or a single series from totalSize when the metric has
// no value column, as for SELECT COUNT(); such a series carries only the
// constant labels, since there are no records to take other labels from).
// A family may have no series at all (no rows).
//
// Label values come from the named columns: a string as is, a number in its
// shortest form, a boolean as true/false, null or a missing key as "" (a null
// group). A column matches its key exactly or, as SOQL aliases are
// case-insensitive, ignoring ASCII case. A column may be a dotted path into
// nested records (CA10__account__r.CA10__accountId__c) for non-aggregate
// queries, where a null relationship gives "". An aggregate result has it
// flat under its alias, or under the leaf name (CA10__accountId__c) when the
// query gave no alias. Constant labels are added to every series; a
// family's label names are sorted. Values: JSON numbers, numeric strings,
// booleans (0/1) and datetimes (as Unix seconds, for freshness queries:
// 2026-01-01T00:00:00.000+0000, or ISO 8601 with Z or +hh:mm, or a bare date
// as midnight UTC; a datetime without a zone is rejected); a null value drops
// that series, since absent is what Prometheus means by unknown.
//
// Throws CmdbError with code "parse" naming the metric, the record index
// (from 0) and the column when a value column is missing or not a number, a
// label column holds an object or array, or two records give the same label
// set. Quoted values are cut to 64 characters, listed columns to 10.
//
// Label values longer than max_label_value_length bytes are cut with
// CapLength.
std::vector<GaugeFamily> ToFamilies(const QueryConfig& query,
                                    const QueryResult& result,
                                    size_t max_label_value_length = 1024);

// ToFamilies one record at a time, for records streamed from the API page
// by page: each record is folded into the series at once and not kept.
// Finish() gives what ToFamilies would for the same records and totalSize,
// or throws its error: the first metric's, in config order, with a bad
// record (the first bad one) or two records of the same labels. Used by one
// thread at a time (the poller's worker running the query).
class SeriesBuilder : public RecordSink {
 public:
  explicit SeriesBuilder(const QueryConfig& query,
                         size_t max_label_value_length = 1024);
  ~SeriesBuilder() override;
  SeriesBuilder(SeriesBuilder&&) noexcept;

  void Add(nlohmann::json&& record) override { Fold(record); }
  void Fold(const nlohmann::json& record);
  // Makes room for this many more records' series at once, when the number
  // is known, rather than growing by copies.
  void Reserve(size_t records);
  // Records folded so far.
  size_t rows() const { return rows_; }
  // Call once, after the last record.
  std::vector<GaugeFamily> Finish(int64_t total_size);

 private:
  struct Metric;
  size_t max_length_;
  size_t rows_ = 0;
  std::vector<Metric> metrics_;
};

// value if it fits in max_length bytes; else its head, cut at a character
// boundary, and "~" with 8 hex digits of a hash of the whole value, at most
// max_length bytes in all. Distinct long values stay distinct (but for a
// hash collision), so series do not merge.
std::string CapLength(std::string value, size_t max_length);

// What keep_seen_for remembers of one query: per metric, the key of every
// label set seen in a successful run (GaugeFamily::Series::key, in the
// metric's label order), and when it was last seen. The poller keeps one per
// query and hands it to ZeroFill; a reload starts with an empty one.
struct SeenLabels {
  using Clock = std::chrono::steady_clock;
  std::map<std::string, std::map<std::string, Clock::time_point>> metrics;
};

// Adds a 0 series for each label set a metric's expected_values or
// keep_seen_for says should be there but the result lacks; families[i]
// belongs to query.metrics[i], as ToFamilies makes them.
//
// expected_values: every combination of the listed values, each completed
// with every distinct combination of the metric's unlisted labels present in
// the result (nothing to complete when every label is listed; nothing at all
// when some are not and the result is empty). keep_seen_for: the label sets
// in `memory` last seen at most keep_seen_for before now. First the
// metric's series in this result are remembered as seen at now, and label
// sets not seen for longer are forgotten; about max_series label sets are
// remembered per metric, the most recently seen (more only when they were
// all seen at the same time).
//
// Added series come after the result's and carry its constant labels.
// Values are cut with CapLength. Series are only added while the query has
// fewer than query.max_series in all, so a filled 0 never displaces a
// series of the result; returns how many were left out for that.
size_t ZeroFill(std::vector<GaugeFamily>& families, const QueryConfig& query,
                SeenLabels& memory, SeenLabels::Clock::time_point now,
                size_t max_label_value_length = 1024);

// Keeps the first max_series series over all families, in order; returns
// how many it dropped.
size_t CapSeries(std::vector<GaugeFamily>& families, int64_t max_series);

}  // namespace cloudaware_exporter

#endif  // CLOUDAWARE_EXPORTER_SAMPLES_H_
