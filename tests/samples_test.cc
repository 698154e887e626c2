#include "exporter/pipeline/samples.h"

#include <gtest/gtest.h>

#include <charconv>
#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "exporter/cmdb/api_error.h"

namespace cloudaware_exporter {
namespace {

using nlohmann::json;

QueryResult Result(const std::string& body) {
  const json parsed = json::parse(body);
  QueryResult result;
  result.total_size = parsed.at("totalSize").get<int64_t>();
  result.done = parsed.at("done").get<bool>();
  for (const json& record : parsed.at("records")) {
    result.records.push_back(record);
  }
  return result;
}

using Labels = std::vector<std::pair<std::string, std::string>>;

MetricConfig Metric(const std::string& name, const std::string& value,
                    const Labels& labels = {}, const Labels& const_labels = {},
                    const std::string& help = "") {
  MetricConfig metric;
  metric.name = name;
  metric.help = help;
  metric.value = value;
  metric.labels = labels;
  metric.const_labels = const_labels;
  return metric;
}

QueryConfig Query(MetricConfig metric) {
  QueryConfig query;
  query.name = "q";
  query.metrics.push_back(std::move(metric));
  return query;
}

// Series i as `{a="x",b="y"} 412`: labels in the order the family holds
// them, the value in its shortest form.
std::string SeriesText(const GaugeFamily& family, size_t i) {
  const GaugeFamily::Series& series = family.series.at(i);
  const std::vector<std::string_view> values = LabelValues(series.key);
  EXPECT_EQ(values.size(), family.label_names.size()) << family.name;
  std::string text = "{";
  for (size_t k = 0; k < values.size() && k < family.label_names.size(); ++k) {
    if (k > 0) text += ",";
    text += family.label_names[k] + "=\"" + std::string(values[k]) + "\"";
  }
  char value[32];
  auto [end, ec] = std::to_chars(value, value + sizeof value, series.value);
  return text + "} " + std::string(value, end);
}

std::vector<std::string> SeriesTexts(const GaugeFamily& family) {
  std::vector<std::string> texts;
  for (size_t i = 0; i < family.series.size(); ++i) {
    texts.push_back(SeriesText(family, i));
  }
  return texts;
}

struct MappingCase {
  const char* name;
  const char* result;
  MetricConfig metric;
  std::vector<std::string> want;
};

TEST(SamplesTest, MapsRecordsToSeries) {
  const MappingCase cases[] = {
      {"grouped rows under aliases, with a null group",
       R"({"totalSize": 3, "done": true, "records": [
           {"attributes": {"type": "AggregateResult"}, "state": "running", "n": 412},
           {"attributes": {"type": "AggregateResult"}, "state": "stopped", "n": 57},
           {"attributes": {"type": "AggregateResult"}, "state": null, "n": 2}]})",
       Metric("m", "n", {{"state", "state"}}),
       {R"({state="running"} 412)", R"({state="stopped"} 57)",
        R"({state=""} 2)"}},
      {"unaliased aggregates are exprN; label names differ from columns",
       R"({"totalSize": 1, "done": true, "records": [
           {"attributes": {"type": "AggregateResult"},
            "CA10__stateName__c": "running", "expr0": 412, "expr1": 3.5}]})",
       Metric("m", "expr1", {{"state", "CA10__stateName__c"}}),
       {R"({state="running"} 3.5)"}},
      {"a missing label column is a null group",
       R"({"totalSize": 1, "done": true, "records": [
           {"attributes": {"type": "AggregateResult"}, "n": 4}]})",
       Metric("m", "n", {{"state", "state"}}),
       {R"({state=""} 4)"}},
      {"relationship paths into nested records; null lookups give empty",
       R"({"totalSize": 2, "done": true, "records": [
           {"attributes": {"type": "CA10__CaAwsInstance__c",
                           "url": "/services/data/v66.0/sobjects/CA10__CaAwsInstance__c/a0B1"},
            "Name": "i-1",
            "CA10__account__r": {"attributes": {"type": "CA10__CaAwsAccount__c"},
                                 "CA10__accountId__c": "111122223333"},
            "CA10__vpc__r": {"attributes": {"type": "CA10__CaAwsVpc__c"},
                             "CA10__account__r": {"CA10__accountId__c": "444455556666"}},
            "CA10__averageCpuOneWeek__c": 12.5},
           {"attributes": {"type": "CA10__CaAwsInstance__c",
                           "url": "/services/data/v66.0/sobjects/CA10__CaAwsInstance__c/a0B2"},
            "Name": "i-2",
            "CA10__account__r": null,
            "CA10__vpc__r": {"attributes": {"type": "CA10__CaAwsVpc__c"},
                             "CA10__account__r": null},
            "CA10__averageCpuOneWeek__c": 3}]})",
       Metric("m", "CA10__averageCpuOneWeek__c",
              {{"instance", "Name"},
               {"account", "CA10__account__r.CA10__accountId__c"},
               {"vpc_account",
                "CA10__vpc__r.CA10__account__r.CA10__accountId__c"}}),
       {R"({account="111122223333",instance="i-1",vpc_account="444455556666"} 12.5)",
        R"({account="",instance="i-2",vpc_account=""} 3)"}},
      {"a value behind a null lookup drops the series",
       R"({"totalSize": 2, "done": true, "records": [
           {"Name": "i-1", "CA10__account__r": {"CA10__score__c": 7}},
           {"Name": "i-2", "CA10__account__r": null}]})",
       Metric("m", "CA10__account__r.CA10__score__c", {{"instance", "Name"}}),
       {R"({instance="i-1"} 7)"}},
      {"a grouped relationship field under its alias",
       R"({"totalSize": 1, "done": true, "records": [
           {"attributes": {"type": "AggregateResult"}, "acct": "111122223333", "n": 5}]})",
       Metric("m", "n", {{"account", "acct"}}),
       {R"({account="111122223333"} 5)"}},
      {"an unaliased grouped relationship field is flat under its leaf name",
       R"({"totalSize": 1, "done": true, "records": [
           {"attributes": {"type": "AggregateResult"},
            "CA10__accountId__c": "111122223333", "expr0": 5}]})",
       Metric("m", "expr0",
              {{"account", "CA10__account__r.CA10__accountId__c"}}),
       {R"({account="111122223333"} 5)"}},
      {"COUNT() takes totalSize and only the constant labels",
       R"({"totalSize": 471, "done": true, "records": []})",
       Metric("m", "", {{"state", "state"}},
              {{"cloud", "azure"}, {"kind", "aks"}}),
       {R"({cloud="azure",kind="aks"} 471)"}},
      {"constant labels merge with column labels in name order",
       R"({"totalSize": 1, "done": true, "records": [
           {"region": "us-east-1", "state": "running", "n": 1}]})",
       Metric("m", "n", {{"zone", "region"}, {"a_state", "state"}},
              {{"cloud", "aws"}}),
       {R"({a_state="running",cloud="aws",zone="us-east-1"} 1)"}},
      {"numbers and booleans as label values",
       R"({"totalSize": 9, "done": true, "records": [
           {"v": 42, "n": 1}, {"v": 3.5, "n": 2}, {"v": 3.0, "n": 3},
           {"v": -7, "n": 4}, {"v": true, "n": 5}, {"v": false, "n": 6},
           {"v": 18446744073709551615, "n": 7}, {"v": 1e21, "n": 8},
           {"v": 0.1, "n": 9}]})",
       Metric("m", "n", {{"v", "v"}}),
       {R"({v="42"} 1)", R"({v="3.5"} 2)", R"({v="3"} 3)", R"({v="-7"} 4)",
        R"({v="true"} 5)", R"({v="false"} 6)",
        R"({v="18446744073709551615"} 7)", R"({v="1e+21"} 8)",
        R"({v="0.1"} 9)"}},
      // Expected values from GNU date: date -u -d '<datetime>' +%s.%N
      {"datetimes become Unix seconds",
       R"({"totalSize": 9, "done": true, "records": [
           {"id": "salesforce", "t": "2026-01-01T00:00:00.000+0000"},
           {"id": "zulu", "t": "2026-01-01T00:00:00Z"},
           {"id": "colon offset", "t": "2026-01-01T02:30:00.500+02:30"},
           {"id": "negative offset", "t": "2025-12-31T19:00:00-05:00"},
           {"id": "leap day", "t": "2024-02-29T12:00:00.250Z"},
           {"id": "before 1970", "t": "1969-12-31T23:59:59Z"},
           {"id": "after 2038", "t": "2100-03-01T00:00:00.000+0000"},
           {"id": "fraction", "t": "2026-06-15T08:45:30.125+0000"},
           {"id": "date", "t": "2026-01-01"}]})",
       Metric("m", "t", {{"id", "id"}}),
       {R"({id="salesforce"} 1767225600)", R"({id="zulu"} 1767225600)",
        R"({id="colon offset"} 1767225600.5)",
        R"({id="negative offset"} 1767225600)",
        R"({id="leap day"} 1709208000.25)", R"({id="before 1970"} -1)",
        R"({id="after 2038"} 4107542400)", R"({id="fraction"} 1781513130.125)",
        R"({id="date"} 1767225600)"}},
      {"numeric strings, booleans and numbers as values",
       R"({"totalSize": 6, "done": true, "records": [
           {"id": "a", "v": "42"}, {"id": "b", "v": "-3.25"},
           {"id": "c", "v": "1e3"}, {"id": "d", "v": true},
           {"id": "e", "v": false}, {"id": "f", "v": 7}]})",
       Metric("m", "v", {{"id", "id"}}),
       {R"({id="a"} 42)", R"({id="b"} -3.25)", R"({id="c"} 1000)",
        R"({id="d"} 1)", R"({id="e"} 0)", R"({id="f"} 7)"}},
      {"a null value drops the series, which then clashes with nothing",
       R"({"totalSize": 3, "done": true, "records": [
           {"state": "running", "n": null},
           {"state": "running", "n": 5},
           {"state": "stopped", "n": 2}]})",
       Metric("m", "n", {{"state", "state"}}),
       {R"({state="running"} 5)", R"({state="stopped"} 2)"}},
      {"aliases match case-insensitively",
       R"({"totalSize": 1, "done": true, "records": [
           {"attributes": {"type": "AggregateResult"}, "State": "running", "N": 4}]})",
       Metric("m", "n", {{"state", "STATE"}}),
       {R"({state="running"} 4)"}},
      {"an exact match wins over a case-insensitive one",
       R"({"totalSize": 1, "done": true, "records": [
           {"N": 1, "n": 2, "S": "upper", "s": "lower"}]})",
       Metric("m", "n", {{"s", "s"}}),
       {R"({s="lower"} 2)"}},
      {"no rows, no series",
       R"({"totalSize": 0, "done": true, "records": []})",
       Metric("m", "n", {{"state", "state"}}),
       {}},
  };
  for (const MappingCase& c : cases) {
    SCOPED_TRACE(c.name);
    const auto families = ToFamilies(Query(c.metric), Result(c.result));
    ASSERT_EQ(families.size(), 1u);
    EXPECT_EQ(SeriesTexts(families[0]), c.want);
  }
}

TEST(SamplesTest, AConstantValueMakesAnInfoSeriesPerRecord) {
  MetricConfig info = Metric("info", "1", {{"id", "CA10__instanceId__c"}});
  info.constant = 1;
  auto families = ToFamilies(
      Query(info), Result(R"({"totalSize": 2, "done": true, "records": [
      {"attributes": {"type": "CA10__CaAwsInstance__c"}, "CA10__instanceId__c": "i-1"},
      {"attributes": {"type": "CA10__CaAwsInstance__c"}, "CA10__instanceId__c": null}]})"));
  ASSERT_EQ(families.size(), 1u);
  EXPECT_EQ(SeriesTexts(families[0]),
            (std::vector<std::string>{R"({id="i-1"} 1)", R"({id=""} 1)"}));
}

TEST(SamplesTest, MakesOneGaugeFamilyPerMetricInConfigOrder) {
  QueryConfig query;
  query.metrics = {
      Metric("b_seconds", "t", {}, {}, "Help of b."),
      Metric("a_total_things", "n", {}, {}, "Help of a."),
  };
  const auto families = ToFamilies(query, Result(R"({
      "totalSize": 1, "done": true,
      "records": [{"n": 3, "t": "2026-01-01T00:00:00.000+0000"}]})"));
  ASSERT_EQ(families.size(), 2u);
  EXPECT_EQ(families[0].name, "b_seconds");
  EXPECT_EQ(families[0].help, "Help of b.");
  EXPECT_EQ(SeriesTexts(families[0]),
            std::vector<std::string>{"{} 1767225600"});
  EXPECT_EQ(families[1].name, "a_total_things");
  EXPECT_EQ(families[1].help, "Help of a.");
  EXPECT_EQ(SeriesTexts(families[1]), std::vector<std::string>{"{} 3"});
}

struct ErrorCase {
  const char* name;
  const char* result;
  MetricConfig metric;
  std::vector<std::string> in_message;
  std::vector<std::string> not_in_message;
};

std::string ErrorOf(const QueryConfig& query, const QueryResult& result) {
  try {
    ToFamilies(query, result);
  } catch (const CmdbError& e) {
    EXPECT_EQ(e.code(), "parse");
    return e.what();
  }
  ADD_FAILURE() << "no CmdbError";
  return "";
}

TEST(SamplesTest, RejectsRecordsItCannotMap) {
  const ErrorCase cases[] = {
      {"missing value column",
       R"({"totalSize": 2, "done": true, "records": [
           {"attributes": {"type": "AggregateResult"}, "state": "a", "n": 1},
           {"attributes": {"type": "AggregateResult"}, "state": "b", "count": 2}]})",
       Metric("cloudaware_x", "n", {{"state", "state"}}),
       {"cloudaware_x: record 1", "\"n\"", "count", "state"},
       {"attributes"}},
      {"missing relationship on the value path",
       R"({"totalSize": 1, "done": true, "records": [{"Name": "i-1"}]})",
       Metric("m", "CA10__account__r.CA10__score__c"),
       {"m: record 0", "CA10__account__r.CA10__score__c", "Name"},
       {}},
      {"value not a number",
       R"({"totalSize": 1, "done": true, "records": [{"n": "lots"}]})",
       Metric("m", "n"),
       {"m: record 0", "\"n\"", "not a number", "\"lots\""},
       {}},
      {"value an object",
       R"({"totalSize": 1, "done": true, "records": [{"n": {"a": 1}}]})",
       Metric("m", "n"),
       {"m: record 0", "not a number", R"({"a":1})"},
       {}},
      {"label an array",
       R"({"totalSize": 2, "done": true, "records": [
           {"state": "a", "n": 1}, {"state": ["x", "y"], "n": 1}]})",
       Metric("m", "n", {{"st", "state"}}),
       {"m: record 1", "\"state\"", "label st", "array", R"(["x","y"])"},
       {}},
      {"label an object",
       R"({"totalSize": 1, "done": true, "records": [
           {"CA10__account__r": {"Name": "x"}, "n": 1}]})",
       Metric("m", "n", {{"account", "CA10__account__r"}}),
       {"m: record 0", "\"CA10__account__r\"", "object"},
       {}},
      {"two records with the same labels",
       R"({"totalSize": 3, "done": true, "records": [
           {"state": "running", "az": "a", "n": 1},
           {"state": "stopped", "az": "a", "n": 2},
           {"state": "running", "az": "b", "n": 3}]})",
       Metric("m", "n", {{"state", "state"}}, {{"cloud", "aws"}}),
       {R"(m: records 0 and 2 give the same labels {cloud="aws",state="running"})"},
       {}},
      {"the earliest repeat is reported, whatever the order of the hashes",
       R"({"totalSize": 14, "done": true, "records": [
           {"s": "a", "n": 1}, {"s": "b", "n": 1}, {"s": "c", "n": 1},
           {"s": "d", "n": 1}, {"s": "e", "n": 1}, {"s": "f", "n": 1},
           {"s": "x", "n": null},
           {"s": "e", "n": 1}, {"s": "a", "n": 1}, {"s": "f", "n": 1},
           {"s": "c", "n": 1}, {"s": "d", "n": 1}, {"s": "b", "n": 1},
           {"s": "e", "n": 1}]})",
       Metric("m", "n", {{"s", "s"}}),
       {R"(m: records 4 and 7 give the same labels {s="e"})"},
       {}},
  };
  for (const ErrorCase& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string message = ErrorOf(Query(c.metric), Result(c.result));
    for (const std::string& part : c.in_message) {
      EXPECT_NE(message.find(part), std::string::npos)
          << "\"" << part << "\" not in: " << message;
    }
    for (const std::string& part : c.not_in_message) {
      EXPECT_EQ(message.find(part), std::string::npos)
          << "\"" << part << "\" in: " << message;
    }
  }
}

TEST(SamplesTest, RejectsStringsThatAreNeitherNumbersNorDatetimes) {
  const char* values[] = {
      "",
      " 42",
      "42 ",
      "0x10",
      "1,5",
      "nan",
      "inf",
      "-infinity",
      "1e999",
      "2026-13-01T00:00:00Z",
      "2026-02-30T00:00:00Z",
      "2026-01-01T24:00:00Z",
      "2026-01-01T00:60:00Z",
      "2026-01-01T00:00:00",
      "2026-01-01T00:00:00.Z",
      "2026-01-01T00:00:00+0000x",
      "2026-01-01T00:00:00+00",
      "2026-01-01 00:00:00Z",
      "2026-1-01",
      "2026-01-01T00:00Z",
  };
  for (const char* value : values) {
    SCOPED_TRACE(value);
    QueryResult result;
    result.records.push_back({{"n", value}});
    const std::string message = ErrorOf(Query(Metric("m", "n")), result);
    EXPECT_NE(message.find("not a number"), std::string::npos) << message;
  }
}

TEST(SamplesTest, ShortensLongValuesInErrors) {
  const std::string shown(64, 'x');
  QueryResult result;
  result.records.push_back({{"n", shown + std::string(200, 'y')}});
  const std::string message = ErrorOf(Query(Metric("m", "n")), result);
  EXPECT_NE(message.find(shown), std::string::npos) << message;
  EXPECT_EQ(message.find('y'), std::string::npos) << message;
}

TEST(SamplesTest, ListsAtMostTenColumnsInErrors) {
  json record = {{"attributes", {{"type", "AggregateResult"}}}};
  for (int i = 0; i < 25; ++i) {
    record["c" + std::to_string(100 + i)] = i;
  }
  QueryResult result;
  result.records.push_back(record);
  const std::string message = ErrorOf(Query(Metric("m", "n")), result);
  for (int i = 0; i < 10; ++i) {
    EXPECT_NE(message.find("c" + std::to_string(100 + i)), std::string::npos)
        << message;
  }
  EXPECT_EQ(message.find("c110"), std::string::npos) << message;
  EXPECT_NE(message.find("15 more"), std::string::npos) << message;
}

TEST(SamplesTest, DeeplyNestedValuesFailWithoutExhaustingTheStack) {
  // Deep enough to overflow an 8 MiB stack if rendered recursively.
  std::string nested(200000, '[');
  nested += std::string(200000, ']');
  QueryResult result;
  result.total_size = 1;
  result.records.push_back(json{{"s", json::parse(nested)}, {"n", 1}});
  try {
    ToFamilies(Query(Metric("m", "n", {{"s", "s"}})), result);
    FAIL() << "a nested label value was accepted";
  } catch (const CmdbError& e) {
    EXPECT_EQ(e.code(), "parse");
    EXPECT_NE(std::string(e.what()).find("holds an array"), std::string::npos)
        << e.what();
  }
}

TEST(SamplesTest, CapsLongLabelValuesKeepingThemDistinct) {
  EXPECT_EQ(CapLength("short", 16), "short");
  EXPECT_EQ(CapLength(std::string(16, 'a'), 16), std::string(16, 'a'));

  std::string a = std::string(40, 'x') + "a";
  std::string b = std::string(40, 'x') + "b";
  std::string cut_a = CapLength(a, 20);
  std::string cut_b = CapLength(b, 20);
  EXPECT_EQ(cut_a.size(), 20u);
  EXPECT_EQ(cut_a.substr(0, 11), std::string(11, 'x'));
  EXPECT_EQ(cut_a[11], '~');
  EXPECT_NE(cut_a, cut_b) << "values that differ only past the cut";
  EXPECT_EQ(CapLength(a, 20), cut_a) << "the same value, the same cut";

  // "é" is two bytes: the cut backs off rather than split it.
  std::string accents;
  for (int i = 0; i < 20; ++i) accents += "\xc3\xa9";
  std::string cut = CapLength(accents, 20);
  EXPECT_EQ(cut.size(), 19u);
  EXPECT_EQ(cut.substr(0, 10), accents.substr(0, 10));
  EXPECT_EQ(cut[10], '~');

  // Through ToFamilies: two long groups stay two series.
  QueryResult result = Result(R"({"totalSize": 2, "done": true, "records": [
      {"attributes": {"type": "AggregateResult"}, "t": ")" +
                              a + R"(", "n": 1},
      {"attributes": {"type": "AggregateResult"}, "t": ")" +
                              b + R"(", "n": 2}]})");
  auto families = ToFamilies(Query(Metric("m", "n", {{"tag", "t"}})), result,
                             /*max_label_value_length=*/20);
  ASSERT_EQ(families[0].series.size(), 2u);
  EXPECT_EQ(LabelValues(families[0].series[0].key).at(0), cut_a);
  EXPECT_EQ(LabelValues(families[0].series[1].key).at(0), cut_b);
}

TEST(SamplesTest, CapsSeriesAcrossFamiliesInOrder) {
  QueryResult result = Result(R"({"totalSize": 3, "done": true, "records": [
      {"s": "a", "n": 1}, {"s": "b", "n": 2}, {"s": "c", "n": 3}]})");
  QueryConfig query = Query(Metric("first", "n", {{"s", "s"}}));
  query.metrics.push_back(Metric("second", "n", {{"s", "s"}}));

  auto families = ToFamilies(query, result);
  EXPECT_EQ(CapSeries(families, 10), 0u);
  EXPECT_EQ(families[0].series.size() + families[1].series.size(), 6u);

  EXPECT_EQ(CapSeries(families, 4), 2u);
  EXPECT_EQ(
      SeriesTexts(families[0]),
      (std::vector<std::string>{"{s=\"a\"} 1", "{s=\"b\"} 2", "{s=\"c\"} 3"}));
  EXPECT_EQ(SeriesTexts(families[1]),
            (std::vector<std::string>{"{s=\"a\"} 1"}));

  EXPECT_EQ(CapSeries(families, 1), 3u);
  EXPECT_EQ(families[0].series.size(), 1u);
  EXPECT_TRUE(families[1].series.empty());
}

using ExpectedValues =
    std::vector<std::pair<std::string, std::vector<std::string>>>;

MetricConfig Filled(Labels labels, ExpectedValues expected,
                    std::chrono::milliseconds keep_seen_for = {},
                    Labels const_labels = {}) {
  MetricConfig metric = Metric("m", "n", labels, const_labels);
  metric.expected_values = std::move(expected);
  metric.keep_seen_for = keep_seen_for;
  return metric;
}

// Aggregate rows of (account, state, n); an empty account is left out.
std::string Rows(
    const std::vector<std::tuple<std::string, std::string, int>>& rows) {
  json records = json::array();
  for (const auto& [account, state, n] : rows) {
    json row = {{"attributes", {{"type", "AggregateResult"}}},
                {"state", state},
                {"n", n}};
    if (!account.empty()) row["account"] = account;
    records.push_back(row);
  }
  return json{
      {"totalSize", records.size()}, {"done", true}, {"records", records}}
      .dump();
}

TEST(SamplesTest, ZeroFillsExpectedValues) {
  const Labels kState = {{"state", "state"}};
  const Labels kAccountState = {{"account", "account"}, {"state", "state"}};
  struct Case {
    const char* name;
    MetricConfig metric;
    std::string result;
    std::vector<std::string> want;
    size_t left_out = 0;
    int64_t max_series = 10000;
    size_t max_length = 1024;
  };
  const Case cases[] = {
      {"every label listed: every value exports",
       Filled(kState, {{"state", {"running", "stopped", "terminated"}}}),
       Rows({{"", "running", 5}}),
       {R"({state="running"} 5)", R"({state="stopped"} 0)",
        R"({state="terminated"} 0)"}},
      {"every label listed, nothing in the result",
       Filled(kState, {{"state", {"running", "stopped"}}}),
       Rows({}),
       {R"({state="running"} 0)", R"({state="stopped"} 0)"}},
      {"a value outside the list stays as it is; the null group can be listed",
       Filled(kState, {{"state", {"running", ""}}}),
       Rows({{"", "pending", 1}}),
       {R"({state="pending"} 1)", R"({state="running"} 0)", R"({state=""} 0)"}},
      {"unlisted labels: each combination in the result is completed",
       Filled(kAccountState, {{"state", {"running", "stopped"}}}),
       Rows({{"a1", "running", 3}, {"a2", "stopped", 1}, {"a2", "pending", 2}}),
       {R"({account="a1",state="running"} 3)",
        R"({account="a2",state="stopped"} 1)",
        R"({account="a2",state="pending"} 2)",
        R"({account="a1",state="stopped"} 0)",
        R"({account="a2",state="running"} 0)"}},
      {"unlisted labels and nothing in the result: nothing to complete",
       Filled(kAccountState, {{"state", {"running"}}}),
       Rows({}),
       {}},
      {"a missing unlisted column is the null group, completed too",
       Filled(kAccountState, {{"state", {"running", "stopped"}}}),
       Rows({{"", "running", 4}}),
       {R"({account="",state="running"} 4)",
        R"({account="",state="stopped"} 0)"}},
      {"two listed labels: every combination",
       Filled(kAccountState,
              {{"state", {"on", "off"}}, {"account", {"a", "b"}}}),
       Rows({{"b", "off", 7}}),
       {R"({account="b",state="off"} 7)", R"({account="a",state="on"} 0)",
        R"({account="b",state="on"} 0)", R"({account="a",state="off"} 0)"}},
      {"constant labels are carried",
       Filled(kState, {{"state", {"running", "stopped"}}}, {},
              {{"cloud", "aws"}}),
       Rows({{"", "running", 2}}),
       {R"({cloud="aws",state="running"} 2)",
        R"({cloud="aws",state="stopped"} 0)"}},
      {"listed values are cut like label values, and match the cut result",
       Filled(kState,
              {{"state", {std::string(30, 'r'), std::string(30, 's')}}}),
       Rows({{"", std::string(30, 'r'), 1}}),
       {"{state=\"" + CapLength(std::string(30, 'r'), 20) + "\"} 1",
        "{state=\"" + CapLength(std::string(30, 's'), 20) + "\"} 0"},
       0,
       10000,
       20},
      {"fills stop at max_series and never displace the result",
       Filled(kState, {{"state", {"a", "b", "c", "d"}}}),
       Rows({{"", "b", 1}}),
       {R"({state="b"} 1)", R"({state="a"} 0)"},
       2,
       2},
      {"a label listed with no values fills nothing",
       Filled(kState, {{"state", {}}}),
       Rows({{"", "running", 1}}),
       {R"({state="running"} 1)"}},
      {"a row-count metric is left alone",
       [] {
         MetricConfig m = Metric("m", "", {});
         m.expected_values = {{"state", {"running"}}};
         return m;
       }(),
       Rows({{"", "x", 1}}),
       {"{} 1"}},
  };
  for (const Case& c : cases) {
    QueryConfig query = Query(c.metric);
    query.max_series = c.max_series;
    auto families = ToFamilies(query, Result(c.result), c.max_length);
    SeenLabels memory;
    EXPECT_EQ(ZeroFill(families, query, memory, SeenLabels::Clock::now(),
                       c.max_length),
              c.left_out)
        << c.name;
    EXPECT_EQ(SeriesTexts(families[0]), c.want) << c.name;
    EXPECT_TRUE(memory.metrics.empty()) << c.name;
  }
}

TEST(SamplesTest, ZeroFillRemembersLabelSetsSeenWithinKeepSeenFor) {
  using std::chrono::minutes;
  QueryConfig query =
      Query(Filled({{"state", "state"}}, {}, std::chrono::hours(1)));
  query.metrics.push_back(Metric("plain", "n", {{"state", "state"}}));
  const auto t0 = SeenLabels::Clock::now();
  SeenLabels memory;
  struct Step {
    minutes at;
    std::string result;
    std::vector<std::string> want;  // of the metric with keep_seen_for
  };
  const Step steps[] = {
      {minutes(0),
       Rows({{"", "running", 5}, {"", "stopped", 2}}),
       {R"({state="running"} 5)", R"({state="stopped"} 2)"}},
      {minutes(30),
       Rows({{"", "running", 6}}),
       {R"({state="running"} 6)", R"({state="stopped"} 0)"}},
      {minutes(60),
       Rows({}),  // stopped was seen exactly an hour ago
       {R"({state="running"} 0)", R"({state="stopped"} 0)"}},
      {minutes(61), Rows({}), {R"({state="running"} 0)"}},
      {minutes(91), Rows({}), {}},
      {minutes(92), Rows({{"", "stopped", 1}}), {R"({state="stopped"} 1)"}},
  };
  for (const Step& step : steps) {
    auto families = ToFamilies(query, Result(step.result));
    const size_t plain = families[1].series.size();
    EXPECT_EQ(ZeroFill(families, query, memory, t0 + step.at), 0u);
    EXPECT_EQ(SeriesTexts(families[0]), step.want)
        << "at " << step.at.count() << "m";
    EXPECT_EQ(families[1].series.size(), plain)
        << "a metric without keep_seen_for is not filled";
  }
  EXPECT_EQ(memory.metrics.count("plain"), 0u);
  EXPECT_EQ(memory.metrics["m"].size(), 1u);
}

TEST(SamplesTest, ZeroFillMemoryKeepsTheMostRecentUpToMaxSeries) {
  QueryConfig query =
      Query(Filled({{"state", "state"}}, {}, std::chrono::hours(1)));
  query.max_series = 2;
  const auto t0 = SeenLabels::Clock::now();
  SeenLabels memory;
  size_t left_out = 0;
  std::vector<GaugeFamily> families;
  for (int i = 0; i < 3; ++i) {
    families =
        ToFamilies(query, Result(Rows({{"", "s" + std::to_string(i), 1}})));
    left_out += ZeroFill(families, query, memory, t0 + std::chrono::minutes(i));
  }
  EXPECT_EQ(left_out, 0u);
  EXPECT_EQ(
      SeriesTexts(families[0]),
      (std::vector<std::string>{R"({state="s2"} 1)", R"({state="s1"} 0)"}));
  EXPECT_EQ(memory.metrics["m"].size(), 2u);
}

TEST(SamplesTest, ZeroFillsExpectedAndRememberedTogetherOnce) {
  QueryConfig query =
      Query(Filled({{"state", "state"}}, {{"state", {"running", "stopped"}}},
                   std::chrono::hours(1)));
  SeenLabels memory;
  const auto t0 = SeenLabels::Clock::now();
  auto first =
      ToFamilies(query, Result(Rows({{"", "pending", 1}, {"", "stopped", 1}})));
  ZeroFill(first, query, memory, t0);
  auto second = ToFamilies(query, Result(Rows({})));
  ZeroFill(second, query, memory, t0 + std::chrono::minutes(5));
  EXPECT_EQ(SeriesTexts(second[0]),
            (std::vector<std::string>{R"({state="running"} 0)",
                                      R"({state="stopped"} 0)",
                                      R"({state="pending"} 0)"}));
}

TEST(SamplesTest, Maps100000Records) {
  const json account = {{"attributes", {{"type", "CA10__CaAwsAccount__c"}}},
                        {"CA10__accountId__c", "111122223333"}};
  QueryResult result;
  result.total_size = 100000;
  result.records.resize(100000);
  for (size_t i = 0; i < result.records.size(); ++i) {
    json& record = result.records[i];
    record["attributes"] = {{"type", "CA10__CaAwsInstance__c"}};
    record["Name"] = "i-" + std::to_string(i);
    record["CA10__account__r"] = account;
    record["CA10__breezeLastUpdate__c"] = "2026-01-01T00:00:00.000+0000";
  }
  const QueryConfig query =
      Query(Metric("m", "CA10__breezeLastUpdate__c",
                   {{"instance", "Name"},
                    {"account", "CA10__account__r.CA10__accountId__c"}},
                   {{"cloud", "aws"}}));

  const auto families = ToFamilies(query, result);

  ASSERT_EQ(families.size(), 1u);
  EXPECT_EQ(families[0].series.size(), 100000u);
  EXPECT_EQ(SeriesText(families[0], 99999),
            R"({account="111122223333",cloud="aws",instance="i-99999"} )"
            "1767225600");
}

}  // namespace
}  // namespace cloudaware_exporter
