#include "exporter/base/duration.h"

#include <gtest/gtest.h>

namespace cloudaware_exporter {
namespace {

using std::chrono::milliseconds;

TEST(DurationTest, ParsesPrometheusDurations) {
  const std::vector<std::pair<std::string, int64_t>> cases = {
      {"0s", 0},        {"500ms", 500},   {"30s", 30000},
      {"5m", 300000},   {"1h", 3600000},  {"2h30m", 9000000},
      {"1d", 86400000}, {"1m30s", 90000}, {"1h0m5s250ms", 3605250},
  };
  for (const auto& [text, ms] : cases) {
    auto d = ParseDuration(text);
    ASSERT_TRUE(d.has_value()) << text;
    EXPECT_EQ(d->count(), ms) << text;
  }
}

TEST(DurationTest, RejectsEverythingElse) {
  for (const char* bad : {"", "5", "m", "5x", "-5s", "5s3", "1.5s", "30s5m",
                          "5m5m", " 5s", "5s ", "5 s", "99999999999999s"}) {
    EXPECT_FALSE(ParseDuration(bad).has_value()) << '"' << bad << '"';
  }
}

TEST(DurationTest, FormatReadsBack) {
  for (int64_t ms :
       {0LL, 1LL, 999LL, 1000LL, 90000LL, 3605250LL, 86400000LL, 90061001LL}) {
    std::string text = FormatDuration(milliseconds(ms));
    auto back = ParseDuration(text);
    ASSERT_TRUE(back.has_value()) << text;
    EXPECT_EQ(back->count(), ms) << text;
  }
  EXPECT_EQ(FormatDuration(milliseconds(90000)), "1m30s");
  EXPECT_EQ(FormatDuration(milliseconds(300000)), "5m");
}

}  // namespace
}  // namespace cloudaware_exporter
