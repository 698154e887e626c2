#include "exporter/pipeline/gauge_family.h"

#include <gtest/gtest.h>
#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>

#include <cmath>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

namespace cloudaware_exporter {
namespace {

// The family as prometheus-cpp holds it, for its TextSerializer.
prometheus::MetricFamily ToMetricFamily(const GaugeFamily& family) {
  prometheus::MetricFamily out{
      family.name, family.help, prometheus::MetricType::Gauge, {}};
  for (const GaugeFamily::Series& series : family.series) {
    prometheus::ClientMetric metric;
    const std::vector<std::string_view> values = LabelValues(series.key);
    EXPECT_EQ(values.size(), family.label_names.size());
    for (size_t i = 0; i < values.size(); ++i) {
      metric.label.push_back({family.label_names[i], std::string(values[i])});
    }
    metric.gauge.value = series.value;
    out.metric.push_back(metric);
  }
  return out;
}

std::string Serialized(const GaugeFamily& family) {
  return prometheus::TextSerializer().Serialize({ToMetricFamily(family)});
}

const std::vector<double>& TrickyValues() {
  using limits = std::numeric_limits<double>;
  static const std::vector<double> values = {0,
                                             -0.0,
                                             1,
                                             -1,
                                             2.5,
                                             0.1,
                                             1.0 / 3,
                                             -2.0 / 3,
                                             1767225600,
                                             1767225600.125,
                                             1e15,
                                             1e16,
                                             1e17,
                                             123456789012345678.0,
                                             9007199254740993.0,
                                             1e21,
                                             -1e21,
                                             1e-5,
                                             1e-7,
                                             12.5e-300,
                                             limits::max(),
                                             limits::lowest(),
                                             limits::min(),
                                             limits::denorm_min(),
                                             -limits::denorm_min(),
                                             limits::epsilon(),
                                             limits::quiet_NaN(),
                                             -limits::quiet_NaN(),
                                             limits::infinity(),
                                             -limits::infinity()};
  return values;
}

const std::vector<std::string>& TrickyLabelValues() {
  static const std::vector<std::string> values = {"",
                                                  "plain",
                                                  "back\\slash",
                                                  "quote\"d",
                                                  "new\nline",
                                                  "\\\"\n\\n",
                                                  "tab\tand\rreturn",
                                                  "caf\xc3\xa9",
                                                  std::string("nul\0byte", 8),
                                                  "\x01\x7f\x80\xff",
                                                  "{a=\"b\"},c",
                                                  std::string(127, 'x'),
                                                  std::string(128, 'y'),
                                                  std::string(20000, 'z')};
  return values;
}

TEST(GaugeFamilyTest, KeysReadBackTheirLabelValues) {
  const std::vector<std::string>& values = TrickyLabelValues();
  const std::string key = SeriesKey(values);
  const std::vector<std::string_view> back = LabelValues(key);
  ASSERT_EQ(back.size(), values.size());
  for (size_t i = 0; i < values.size(); ++i) EXPECT_EQ(back[i], values[i]);
  EXPECT_TRUE(LabelValues(SeriesKey({})).empty());
  EXPECT_EQ(LabelValues(SeriesKey({""})).size(), 1u);
  // Where one value ends is part of the key.
  EXPECT_NE(SeriesKey({"ab", "c"}), SeriesKey({"a", "bc"}));
  EXPECT_NE(SeriesKey({"", "a"}), SeriesKey({"a", ""}));
}

TEST(GaugeFamilyTest, RendersValuesAsTextSerializerDoes) {
  GaugeFamily family{"m", "Things.", {"i"}, {}};
  for (double value : TrickyValues()) {
    family.series.push_back(
        {SeriesKey({std::to_string(family.series.size())}), value});
  }
  EXPECT_EQ(RenderText(family).text, Serialized(family));
}

TEST(GaugeFamilyTest, RendersLabelValuesAsTextSerializerDoes) {
  GaugeFamily family{"m", "Things.", {"a", "b_2", "c"}, {}};
  const std::vector<std::string>& values = TrickyLabelValues();
  for (size_t i = 0; i < values.size(); ++i) {
    const std::string& other = values[(i + 3) % values.size()];
    family.series.push_back({SeriesKey({values[i], other, std::to_string(i)}),
                             static_cast<double>(i)});
  }
  EXPECT_EQ(RenderText(family).text, Serialized(family));
}

// Pinned as well, so that a different prometheus-cpp cannot move both.
TEST(GaugeFamilyTest, RendersTheTextFormat) {
  GaugeFamily family{"m", "Line\nback\\slash \"quoted\".", {"a", "b"}, {}};
  family.series.push_back({SeriesKey({"x\"y", "back\\n\new"}), 412});
  family.series.push_back({SeriesKey({"", ""}), -0.0});
  family.series.push_back({SeriesKey({"1", "2"}), 0.1});
  family.series.push_back({SeriesKey({"1", "3"}), 1e21});
  family.series.push_back({SeriesKey({"1", "4"}), 1.0 / 3});
  family.series.push_back({SeriesKey({"n", "n"}), std::nan("")});
  family.series.push_back({SeriesKey({"i", "+"}), HUGE_VAL});
  family.series.push_back({SeriesKey({"i", "-"}), -HUGE_VAL});
  const FamilyText rendered = RenderText(family);
  const std::string header =
      "# HELP m Line\\nback\\\\slash \"quoted\".\n# TYPE m gauge\n";
  EXPECT_EQ(rendered.text, header +
                               "m{a=\"x\\\"y\",b=\"back\\\\n\\new\"} 412\n"
                               "m{a=\"\",b=\"\"} -0\n"
                               "m{a=\"1\",b=\"2\"} 0.1\n"
                               "m{a=\"1\",b=\"3\"} 1e+21\n"
                               "m{a=\"1\",b=\"4\"} 0.3333333333333333\n"
                               "m{a=\"n\",b=\"n\"} Nan\n"
                               "m{a=\"i\",b=\"+\"} +Inf\n"
                               "m{a=\"i\",b=\"-\"} -Inf\n");
  EXPECT_EQ(rendered.header_size, header.size());
}

TEST(GaugeFamilyTest, EscapesHelpWhereTextSerializerWritesItAsIs) {
  GaugeFamily family{"m", "a\\b\nc \"d\"", {}, {{"", 1}}};
  GaugeFamily escaped = family;
  escaped.help = "a\\\\b\\nc \"d\"";
  EXPECT_EQ(RenderText(family).text, Serialized(escaped));
  EXPECT_EQ(RenderText(family).text,
            "# HELP m a\\\\b\\nc \"d\"\n# TYPE m gauge\nm 1\n");
}

TEST(GaugeFamilyTest, WithoutHelpOrLabelsOrSeries) {
  GaugeFamily family{"m", "", {}, {{"", 7}}};
  const FamilyText rendered = RenderText(family);
  EXPECT_EQ(rendered.text, "# TYPE m gauge\nm 7\n");
  EXPECT_EQ(rendered.text, Serialized(family));
  EXPECT_EQ(rendered.header_size, std::string("# TYPE m gauge\n").size());

  family.series.clear();
  EXPECT_EQ(RenderText(family).text, "");
  EXPECT_EQ(RenderText(family).header_size, 0u);
}

}  // namespace
}  // namespace cloudaware_exporter
