// The streaming page parser against the whole-document one, and the series
// built from streamed pages against ToFamilies over the joined records.
#include "exporter/cmdb/page_stream.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "exporter/cmdb/api_error.h"
#include "exporter/cmdb/cmdb_client.h"
#include "exporter/pipeline/samples.h"

namespace cloudaware_exporter {
namespace {

using nlohmann::json;

// What a parse came to, comparable between the two parsers.
struct Parsed {
  std::string error;  // "code: message", or empty
  QueryPage page;
  std::vector<json> records;
};

Parsed Streamed(const std::string& body) {
  Parsed out;
  CollectingSink sink(out.records);
  try {
    out.page = ParseQueryPage(body, sink);
  } catch (const CmdbError& e) {
    out.error = e.code() + ": " + e.what();
  }
  return out;
}

// The whole-document parser, with attributes dropped as FollowPages does
// for a listing.
Parsed Whole(const std::string& body) {
  Parsed out;
  try {
    out.page = ParseQueryPage(body);
    for (json& r : out.page.records) {
      if (!out.page.aggregate) DropAttributes(r);
      out.records.push_back(std::move(r));
    }
  } catch (const CmdbError& e) {
    out.error = e.code() + ": " + e.what();
  }
  return out;
}

std::string Rows(const std::string& record, size_t n) {
  std::string rows;
  for (size_t i = 0; i < n; ++i) rows += (i ? "," : "") + record;
  return rows;
}

TEST(PageStreamTest, AgreesWithTheWholeDocumentParser) {
  const std::string agg = R"({"attributes":{"type":"AggregateResult"},"n":1})";
  const std::vector<std::string> bodies = {
      R"({"totalSize":2,"done":true,"records":[
          {"attributes":{"type":"A","url":"/x"},"Id":"1","n":3},
          {"attributes":{"type":"A"},"Id":"2","n":null}]})",
      // Nested relationship objects, their own attributes, a null lookup.
      R"({"totalSize":2,"done":true,"records":[
          {"attributes":{"type":"I"},"CA10__account__r":
            {"attributes":{"type":"Acc"},"CA10__accountId__c":"123"},"v":1.5},
          {"attributes":{"type":"I"},"CA10__account__r":null,"v":2}]})",
      // Keys in any order; nextRecordsUrl after the records.
      R"({"records":[{"a":[1,{"b":[]}],"c":{}}],"done":false,"totalSize":9,
          "nextRecordsUrl":"/services/data/v58.0/query/01g-2000"})",
      R"({"totalSize":1,"done":true,"records":[1,"x",null,[2],true]})",
      R"({"totalSize":0,"done":true,"records":[]})",
      R"({"totalSize":0,"done":true,"records":[],"totalSize":5})",
      // A record with a records key of its own is one record.
      R"({"totalSize":1,"done":true,"records":[{"records":[1,2]}]})",
      R"({"done":true,"records":[],"x":{"records":[1]},"totalSize":1})",
      // Aggregates: kept with attributes, cut ones refused.
      R"({"totalSize":2,"done":true,"records":[)" + agg + "," + agg + "]}",
      R"({"totalSize":3,"done":false,"records":[)" + agg +
          R"(],"nextRecordsUrl":"/services/data/v58.0/query/x"})",
      R"({"totalSize":2000,"done":true,"records":[)" + Rows(agg, 2000) + "]}",
      // Wrong shapes.
      R"({"totalSize":1,"done":true,"records":{"a":1}})",
      R"({"totalSize":1,"done":"yes","records":[]})",
      R"({"totalSize":"1","done":true,"records":[]})",
      R"({"totalSize":1.5,"done":true,"records":[]})",
      R"({"totalSize":1,"records":[]})",
      R"({"totalSize":1,"done":false,"records":[]})",
      R"({"totalSize":1,"done":false,"records":[],"nextRecordsUrl":5})",
      R"({"totalSize":1,"done":false,"records":[],"nextRecordsUrl":"http://evil/x"})",
      R"([{"totalSize":1,"done":true,"records":[]}])",
      R"("records")",
      // Malformed JSON, mid-page and at the end.
      R"({"totalSize":3,"done":true,"records":[{"n":1},{"n":2},{"n":)",
      R"({"totalSize":3,"done":true,"records":[{"n":1},{"n" 2}]})",
      R"({"totalSize":1,"done":true,"records":[]} trailing)",
      "",
      "<html><title>502</title></html>",
  };
  for (const std::string& body : bodies) {
    SCOPED_TRACE(body.substr(0, 200));
    const Parsed streamed = Streamed(body);
    const Parsed whole = Whole(body);
    EXPECT_EQ(streamed.error, whole.error);
    if (!whole.error.empty()) continue;
    EXPECT_EQ(streamed.records, whole.records);
    EXPECT_EQ(streamed.page.total_size, whole.page.total_size);
    EXPECT_EQ(streamed.page.done, whole.page.done);
    EXPECT_EQ(streamed.page.aggregate, whole.page.aggregate);
    EXPECT_EQ(streamed.page.next_records_url, whole.page.next_records_url);
    EXPECT_TRUE(streamed.page.records.empty());
  }
}

TEST(PageStreamTest, DropsTheAttributesOfEveryListedRecord) {
  const Parsed p = Streamed(R"({"totalSize":1,"done":true,"records":[
      {"attributes":{"type":"A"},"r__r":{"attributes":{"type":"B"},"f":"x"}}]})");
  ASSERT_EQ(p.error, "");
  ASSERT_EQ(p.records.size(), 1u);
  EXPECT_EQ(p.records[0], json::parse(R"({"r__r":{"f":"x"}})"));
}

TEST(PageStreamTest, MalformedMidPageNamesTheBodyAfterTheRecordsBeforeIt) {
  const std::string body =
      R"({"totalSize":3,"done":true,"records":[{"n":1},{"n":2},{"n":)";
  const Parsed p = Streamed(body);
  EXPECT_EQ(p.error, "parse: the query response is not a JSON object (" +
                         std::to_string(body.size()) + " bytes)");
  // The sink saw the complete records; the query fails all the same.
  EXPECT_EQ(p.records.size(), 2u);
}

TEST(PageStreamTest, RefusesTwoRecordsArrays) {
  const Parsed p = Streamed(
      R"({"totalSize":2,"done":true,"records":[{"n":1}],"records":[{"n":2}]})");
  EXPECT_EQ(p.error, "parse: query response has two records arrays");
}

MetricConfig Metric(const std::string& name, const std::string& value,
                    std::vector<std::pair<std::string, std::string>> labels) {
  MetricConfig m;
  m.name = name;
  m.value = value;
  m.labels = std::move(labels);
  return m;
}

// Pages of a listing of n records, `per_page` to a page, record i made by
// make(i).
template <typename Make>
std::vector<std::string> Pages(size_t n, size_t per_page, Make make) {
  std::vector<std::string> pages;
  for (size_t start = 0; start < n || pages.empty(); start += per_page) {
    json page = {{"totalSize", n}, {"done", start + per_page >= n}};
    json records = json::array();
    for (size_t i = start; i < n && i < start + per_page; ++i) {
      json r = make(i);
      r["attributes"] = {{"type", "CA10__CaAwsInstance__c"}, {"url", "/u"}};
      records.push_back(r);
    }
    page["records"] = records;
    if (start + per_page < n) {
      page["nextRecordsUrl"] =
          "/services/data/v58.0/query/p" + std::to_string(start + per_page);
    }
    pages.push_back(page.dump());
  }
  return pages;
}

std::string Text(const std::vector<GaugeFamily>& families) {
  std::string text;
  for (const auto& f : families) {
    for (const auto& s : f.series) {
      text += f.name;
      const auto values = LabelValues(s.key);
      if (values.size() != f.label_names.size()) text += " (bad key)";
      for (size_t i = 0; i < values.size() && i < f.label_names.size(); ++i) {
        text += " " + f.label_names[i] + "=" + std::string(values[i]);
      }
      text += " " + std::to_string(s.value) + "\n";
    }
  }
  return text;
}

// The families (or error) of the pages streamed into a SeriesBuilder, and
// of ToFamilies over the same records joined.
std::pair<std::string, std::string> BothWays(
    const QueryConfig& query, const std::vector<std::string>& pages) {
  auto run = [](auto&& body) -> std::string {
    try {
      return Text(body());
    } catch (const CmdbError& e) {
      return e.code() + ": " + e.what();
    }
  };
  std::string streamed = run([&] {
    SeriesBuilder builder(query, 16);
    int64_t total = 0;
    for (const std::string& body : pages) {
      total = ParseQueryPage(body, builder).total_size;
    }
    return builder.Finish(total);
  });
  std::string joined = run([&] {
    QueryResult result;
    CollectingSink sink(result.records);
    for (const std::string& body : pages) {
      result.total_size = ParseQueryPage(body, sink).total_size;
    }
    return ToFamilies(query, result, 16);
  });
  return {streamed, joined};
}

QueryConfig Ec2Query() {
  QueryConfig q;
  q.name = "ec2";
  q.metrics.push_back(
      Metric("created", "CreatedDate",
             {{"account", "CA10__account__r.CA10__accountId__c"},
              {"id", "CA10__instanceId__c"}}));
  q.metrics.push_back(Metric("count", "", {}));
  q.metrics.back().const_labels = {{"kind", "ec2"}};
  return q;
}

TEST(SeriesBuilderTest, PagesGiveTheSeriesOfTheJoinedRecords) {
  const auto pages = Pages(5, 2, [](size_t i) {
    json r = {{"CA10__instanceId__c", "i-" + std::to_string(i)},
              {"CreatedDate",
               "2026-01-0" + std::to_string(i + 1) + "T00:00:00.000+0000"}};
    // A lookup, an empty one, and a record whose date is unknown.
    r["CA10__account__r"] =
        i == 1 ? json(nullptr)
               : json{{"attributes", {{"type", "Acc"}}},
                      {"CA10__accountId__c", "a" + std::to_string(i % 2)}};
    if (i == 3) r["CreatedDate"] = nullptr;
    return r;
  });
  ASSERT_EQ(pages.size(), 3u);
  const auto [streamed, joined] = BothWays(Ec2Query(), pages);
  EXPECT_EQ(streamed, joined);
  // Four series (the null date drops one), the empty lookup as "", and
  // totalSize.
  EXPECT_EQ(streamed.substr(0, streamed.find("count kind")),
            "created account=a0 id=i-0 1767225600.000000\n"
            "created account= id=i-1 1767312000.000000\n"
            "created account=a0 id=i-2 1767398400.000000\n"
            "created account=a0 id=i-4 1767571200.000000\n");
  EXPECT_NE(streamed.find("count kind=ec2 5.000000"), std::string::npos);
}

TEST(SeriesBuilderTest, ErrorsNameTheRecordAcrossPages) {
  QueryConfig q = Ec2Query();
  // Record 5, on the third page: a number where a date should be is fine,
  // an object is not.
  const auto bad_value = Pages(7, 2, [](size_t i) {
    json r = {{"CA10__instanceId__c", "i" + std::to_string(i)},
              {"CreatedDate", i == 5 ? json{{"x", 1}} : json(1)}};
    return r;
  });
  auto [streamed, joined] = BothWays(q, bad_value);
  EXPECT_EQ(streamed, joined);
  EXPECT_EQ(streamed,
            "parse: created: record 5 column \"CreatedDate\" is not a number: "
            "{\"x\":1}");

  const auto label_object = Pages(4, 3, [](size_t i) {
    return json{{"CA10__instanceId__c", i == 3 ? json::array({1}) : json("i")},
                {"CreatedDate", 1}};
  });
  std::tie(streamed, joined) = BothWays(q, label_object);
  EXPECT_EQ(streamed, joined);
  EXPECT_EQ(streamed,
            "parse: created: record 3 column \"CA10__instanceId__c\" for label "
            "id holds an array, not a value: [1]");

  const auto missing = Pages(3, 1, [](size_t i) {
    json r = {{"CA10__instanceId__c", "i" + std::to_string(i)}};
    if (i != 2) r["CreatedDate"] = 1;
    return r;
  });
  std::tie(streamed, joined) = BothWays(q, missing);
  EXPECT_EQ(streamed, joined);
  EXPECT_EQ(streamed,
            "parse: created: record 2 has no column \"CreatedDate\" for the "
            "value (it has CA10__instanceId__c)");

  const auto duplicate = Pages(4, 2, [](size_t i) {
    return json{
        {"CA10__instanceId__c", i == 3 ? "i0" : "i" + std::to_string(i)},
        {"CreatedDate", 1}};
  });
  std::tie(streamed, joined) = BothWays(q, duplicate);
  EXPECT_EQ(streamed, joined);
  EXPECT_NE(streamed.find("created: records 0 and 3 give the same labels"),
            std::string::npos)
      << streamed;
}

TEST(SeriesBuilderTest, TheFirstMetricsErrorWinsAsInToFamilies) {
  QueryConfig q;
  q.name = "q";
  q.metrics.push_back(Metric("first", "a", {}));
  q.metrics.push_back(Metric("second", "b", {}));
  // second fails at record 0, first only at record 3 on a later page.
  const auto pages = Pages(4, 2, [](size_t i) {
    return json{{"a", i == 3 ? json("x") : json(i)}, {"b", "y"}};
  });
  const auto [streamed, joined] = BothWays(q, pages);
  EXPECT_EQ(streamed, joined);
  EXPECT_EQ(streamed,
            "parse: first: record 3 column \"a\" is not a number: \"x\"");
}

TEST(SeriesBuilderTest, CountsRecordsAndFinishesEmpty) {
  QueryConfig q = Ec2Query();
  SeriesBuilder builder(q);
  EXPECT_EQ(builder.rows(), 0u);
  ParseQueryPage(R"({"totalSize":0,"done":true,"records":[]})", builder);
  auto families = builder.Finish(0);
  ASSERT_EQ(families.size(), 2u);
  EXPECT_TRUE(families[0].series.empty());
  ASSERT_EQ(families[1].series.size(), 1u);
  EXPECT_EQ(families[1].series[0].value, 0);
}

}  // namespace
}  // namespace cloudaware_exporter
