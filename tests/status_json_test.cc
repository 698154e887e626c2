#include "exporter/app/status_json.h"

#include <gtest/gtest.h>

#include <chrono>

#include "exporter/base/rfc3339.h"

namespace cloudaware_exporter {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using WallTime = std::chrono::system_clock::time_point;

// 2026-12-02T09:46:26.250Z
const WallTime kT0{milliseconds(1796204786250)};

QueryStatus NeverRun() {
  QueryStatus q;
  q.name = "pending_query";
  q.interval = seconds(300);
  q.next_run = kT0 + seconds(7);
  return q;
}

QueryStatus Ran() {
  QueryStatus q;
  q.name = "ec2_by_state";
  q.interval = milliseconds(90500);
  q.last_run = kT0 - seconds(60);
  q.last_success = kT0 - seconds(660);
  q.next_run = kT0 + seconds(30);
  q.duration_seconds = 1.5;
  q.rows = 4;
  q.series = 3;
  q.success = false;
  q.running = true;
  q.last_error = "INVALID_FIELD: No such column";
  return q;
}

ExporterStatus Sample() {
  ExporterStatus s;
  s.version = "1.2.3";
  s.revision = "abcdef";
  s.start_time = kT0 - seconds(3600);
  s.config_file = "exporter.yml";
  s.config_yaml = "cloudaware:\n  client_secret: <secret>\n";
  OrgStatus org;
  org.url = "https://acme.my.salesforce.com";
  org.ready = true;
  org.queries = {Ran(), NeverRun()};
  s.orgs.push_back(org);
  return s;
}

TEST(StatusJsonTest, FormatsTimesAsRfc3339InUtc) {
  EXPECT_EQ(FormatRfc3339(kT0), "2026-12-02T09:46:26.250Z");
  EXPECT_EQ(FormatRfc3339(WallTime{}), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(FormatRfc3339(kT0 + milliseconds(749)), "2026-12-02T09:46:26.999Z");
}

TEST(StatusJsonTest, TimesCutToTheSecondAreNotRounded) {
  EXPECT_EQ(FormatRfc3339(kT0 + milliseconds(749), Precision::kSeconds),
            "2026-12-02T09:46:26Z");
}

TEST(StatusJsonTest, TopLevelShape) {
  auto j = StatusJson(Sample());
  EXPECT_EQ(j["version"], "1.2.3");
  EXPECT_EQ(j["revision"], "abcdef");
  EXPECT_EQ(j["start_time"], "2026-12-02T08:46:26.250Z");
  EXPECT_EQ(j["config"]["file"], "exporter.yml");
  EXPECT_EQ(j["config"]["yaml"], "cloudaware:\n  client_secret: <secret>\n");
  ASSERT_TRUE(j["orgs"].is_array());
  ASSERT_EQ(j["orgs"].size(), 1u);
  const auto& org = j["orgs"][0];
  EXPECT_EQ(org["name"], "");
  EXPECT_EQ(org["url"], "https://acme.my.salesforce.com");
  EXPECT_EQ(org["ready"], true);
  // Keys in the documented order, not sorted.
  std::vector<std::string> keys;
  for (const auto& item : j.items()) keys.push_back(item.key());
  EXPECT_EQ(keys, (std::vector<std::string>{"version", "revision", "start_time",
                                            "config", "orgs"}));
}

TEST(StatusJsonTest, QueryThatRan) {
  auto q = StatusJson(Sample())["orgs"][0]["queries"][0];
  EXPECT_EQ(q["name"], "ec2_by_state");
  EXPECT_DOUBLE_EQ(q["interval_seconds"].get<double>(), 90.5);
  EXPECT_EQ(q["last_run"], "2026-12-02T09:45:26.250Z");
  EXPECT_EQ(q["next_run"], "2026-12-02T09:46:56.250Z");
  EXPECT_EQ(q["last_success"], "2026-12-02T09:35:26.250Z");
  EXPECT_DOUBLE_EQ(q["duration_seconds"].get<double>(), 1.5);
  EXPECT_EQ(q["rows"], 4);
  EXPECT_EQ(q["series"], 3);
  EXPECT_EQ(q["success"], false);
  EXPECT_EQ(q["running"], true);
  EXPECT_EQ(q["last_error"], "INVALID_FIELD: No such column");
}

TEST(StatusJsonTest, NullsForWhatNeverHappened) {
  auto j = StatusJson(Sample());
  auto q = j["orgs"][0]["queries"][1];
  EXPECT_TRUE(q["last_run"].is_null());
  EXPECT_TRUE(q["last_success"].is_null());
  EXPECT_TRUE(q["duration_seconds"].is_null());
  EXPECT_EQ(q["next_run"], "2026-12-02T09:46:33.250Z");
  EXPECT_EQ(q["rows"], 0);
  EXPECT_EQ(q["last_error"], "");

  auto token = j["orgs"][0]["token"];
  EXPECT_EQ(token["held"], false);
  EXPECT_TRUE(token["obtained"].is_null());
  EXPECT_TRUE(token["last_failure"].is_null());
  EXPECT_EQ(token["backoff"], false);
  EXPECT_TRUE(token["backoff_until"].is_null());
  EXPECT_EQ(token["requests"], 0);

  auto api = j["orgs"][0]["api"];
  EXPECT_TRUE(api["daily_used"].is_null());
  EXPECT_TRUE(api["daily_limit"].is_null());
  EXPECT_DOUBLE_EQ(api["interval_stretch"].get<double>(), 1);
  EXPECT_EQ(api["composite_refused"], false);
  EXPECT_EQ(api["paused"], false);
  EXPECT_TRUE(api["paused_until"].is_null());
}

TEST(StatusJsonTest, TokenAndApiState) {
  ExporterStatus s = Sample();
  TokenStatus& t = s.orgs[0].token;
  t.held = false;
  t.obtained = kT0 - seconds(120);
  t.last_failure = TokenFailure{"invalid_client", "token request failed",
                                "the client secret is wrong"};
  t.last_failure_time = kT0 - seconds(5);
  t.backoff_until = kT0 + seconds(10);
  t.requests = 7;
  ApiBudget& api = s.orgs[0].api;
  api.daily_used = 950;
  api.daily_limit = 1000;
  api.interval_stretch = 2;
  api.composite_refused = true;
  api.paused_until = kT0 + seconds(300);

  auto org = StatusJson(s)["orgs"][0];
  auto token = org["token"];
  EXPECT_EQ(token["held"], false);
  EXPECT_EQ(token["obtained"], "2026-12-02T09:44:26.250Z");
  EXPECT_EQ(token["requests"], 7);
  EXPECT_EQ(token["last_failure"]["result"], "invalid_client");
  EXPECT_EQ(token["last_failure"]["message"], "token request failed");
  EXPECT_EQ(token["last_failure"]["hint"], "the client secret is wrong");
  EXPECT_EQ(token["last_failure"]["time"], "2026-12-02T09:46:21.250Z");
  EXPECT_EQ(token["backoff"], true);
  EXPECT_EQ(token["backoff_until"], "2026-12-02T09:46:36.250Z");

  auto a = org["api"];
  EXPECT_EQ(a["daily_used"], 950);
  EXPECT_EQ(a["daily_limit"], 1000);
  EXPECT_DOUBLE_EQ(a["interval_stretch"].get<double>(), 2);
  EXPECT_EQ(a["composite_refused"], true);
  EXPECT_EQ(a["paused"], true);
  EXPECT_EQ(a["paused_until"], "2026-12-02T09:51:26.250Z");
}

TEST(StatusJsonTest, OneEntryPerOrgInOrder) {
  ExporterStatus s = Sample();
  s.orgs[0].name = "prod";
  OrgStatus second;
  second.name = "staging";
  s.orgs.push_back(second);
  auto orgs = StatusJson(s)["orgs"];
  ASSERT_EQ(orgs.size(), 2u);
  EXPECT_EQ(orgs[0]["name"], "prod");
  EXPECT_EQ(orgs[1]["name"], "staging");
  EXPECT_TRUE(orgs[1]["queries"].is_array());
  EXPECT_TRUE(orgs[1]["queries"].empty());
  EXPECT_EQ(orgs[1]["ready"], false);
}

TEST(StatusJsonTest, NoOrgsIsAnEmptyArray) {
  ExporterStatus s = Sample();
  s.orgs.clear();
  auto j = StatusJson(s);
  EXPECT_NE(j.dump().find("\"orgs\":[]"), std::string::npos) << j.dump();
}

}  // namespace
}  // namespace cloudaware_exporter
