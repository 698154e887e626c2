// Turns one query's result into the series of the metrics its config names.
// A pure function: the most tested code of the exporter.
#ifndef CLOUDAWARE_EXPORTER_SAMPLES_H_
#define CLOUDAWARE_EXPORTER_SAMPLES_H_

#include <prometheus/metric_family.h>

#include <cstdint>
#include <string>
#include <vector>

#include "exporter/cmdb_client.h"
#include "exporter/config.h"

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
// query gave no alias. Constant labels are added to every series; each
// series' labels are sorted by name. Values: JSON numbers, numeric strings,
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
std::vector<prometheus::MetricFamily> ToFamilies(
    const QueryConfig& query, const QueryResult& result,
    size_t max_label_value_length = 1024);

// value if it fits in max_length bytes; else its head, cut at a character
// boundary, and "~" with 8 hex digits of a hash of the whole value, at most
// max_length bytes in all. Distinct long values stay distinct (but for a
// hash collision), so series do not merge.
std::string CapLength(std::string value, size_t max_length);

// Keeps the first max_series series over all families, in order; returns
// how many it dropped.
size_t CapSeries(std::vector<prometheus::MetricFamily>& families,
                 int64_t max_series);

}  // namespace cloudaware_exporter

#endif  // CLOUDAWARE_EXPORTER_SAMPLES_H_
