#include "exporter/base/backoff.h"

#include <gtest/gtest.h>

namespace cloudaware_exporter {
namespace {

using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

TEST(BackoffTest, DoublesFromMinUpToMax) {
  EXPECT_EQ(Backoff(seconds(15), minutes(5), 0), seconds(15));
  EXPECT_EQ(Backoff(seconds(15), minutes(5), 1), seconds(30));
  EXPECT_EQ(Backoff(seconds(15), minutes(5), 4), seconds(240));
  EXPECT_EQ(Backoff(seconds(15), minutes(5), 5), minutes(5));
}

TEST(BackoffTest, ManyFailuresNeitherOverflowNorPassMax) {
  EXPECT_EQ(Backoff(seconds(1), seconds(30), 1000000), seconds(30));
  EXPECT_EQ(Backoff(milliseconds(1), minutes(60), 63),
            milliseconds(int64_t{1} << 20));
  EXPECT_EQ(Backoff(seconds(1), seconds(30), -3), seconds(1));
}

}  // namespace
}  // namespace cloudaware_exporter
