#include "exporter/app/landing_page.h"

#include <gtest/gtest.h>

#include <chrono>
#include <regex>
#include <string>
#include <vector>

#include "exporter/pipeline/poller.h"

namespace cloudaware_exporter {
namespace {

using std::chrono::seconds;

// 2026-12-02T09:46:26Z
const QueryStatus::WallTime kNow{seconds(1796204786)};

// The cells of the table row whose first cell is name.
std::vector<std::string> Row(const std::string& html, const std::string& name) {
  std::vector<std::string> cells;
  // Rows of failing and pending queries carry a class.
  std::smatch m;
  if (!std::regex_search(
          html, m,
          std::regex("<tr( class=\"\\w+\")?><td>" +
                     std::regex_replace(
                         name, std::regex(R"([.^$|()\[\]{}*+?\\])"), R"(\$&)") +
                     "</td>")))
    return cells;
  const size_t start = static_cast<size_t>(m.position(0));
  const size_t end = html.find("</tr>", start);
  for (size_t at = html.find("<td", start); at < end;
       at = html.find("<td", at + 1)) {
    const size_t open = html.find('>', at) + 1;
    cells.push_back(html.substr(open, html.find("</td>", open) - open));
  }
  return cells;
}

TEST(LandingPageTest, FormatSpan) {
  const std::vector<std::pair<int64_t, std::string>> cases = {
      {0, "0s"},       {5, "5s"},         {59, "59s"},  {60, "1m"},
      {250, "4m 10s"}, {3599, "59m 59s"}, {3600, "1h"}, {7505, "2h 5m"},
      {86400, "1d"},   {97200, "1d 3h"},  {-3, "0s"}};
  for (const auto& [secs, want] : cases) {
    EXPECT_EQ(FormatSpan(seconds(secs)), want) << secs;
  }
}

TEST(LandingPageTest, TableHasEveryColumnWithIsoAndRelativeTimes) {
  QueryStatus ran;
  ran.name = "ec2_by_state";
  ran.interval = std::chrono::minutes(5);
  ran.last_run = kNow - seconds(125);
  ran.next_run = kNow + seconds(250);
  ran.duration_seconds = 0.25;
  ran.rows = 4;
  ran.series = 3;
  ran.success = true;
  QueryStatus pending;
  pending.name = "gce_total";
  pending.interval = std::chrono::minutes(1);
  pending.next_run = kNow - seconds(1);

  const std::string html =
      RenderLandingPage("1.2.3", "/metrics", {ran, pending}, kNow);
  EXPECT_NE(html.find("<tr><th>query</th><th>interval</th><th>last run</th>"
                      "<th>next run</th><th>duration</th><th>rows</th>"
                      "<th>series</th><th>status</th><th>last error</th></tr>"),
            std::string::npos)
      << html;
  EXPECT_EQ(
      Row(html, "ec2_by_state"),
      (std::vector<std::string>{
          "ec2_by_state", "5m", "2026-12-02T09:44:21Z (2m 5s ago)",
          "2026-12-02T09:50:36Z (in 4m 10s)", "0.250s", "4", "3", "ok", ""}));
  EXPECT_EQ(Row(html, "gce_total"),
            (std::vector<std::string>{"gce_total", "1m", "never",
                                      "2026-12-02T09:46:25Z (due)", "", "0",
                                      "0", "pending", ""}));
}

TEST(LandingPageTest, LinksAndEscaping) {
  QueryStatus failed;
  failed.name = "q<1>";
  failed.last_run = kNow;
  failed.next_run = kNow + seconds(60);
  failed.last_error = "MALFORMED_QUERY: unexpected token: '<'";
  const std::string html =
      RenderLandingPage("1.0 <beta>", "/m?a=1&b=2", {failed}, kNow);
  EXPECT_NE(html.find("<a href=\"/m?a=1&amp;b=2\">Metrics</a>"),
            std::string::npos);
  EXPECT_NE(html.find("<a href=\"/status\">"), std::string::npos);
  EXPECT_NE(html.find("Version 1.0 &lt;beta&gt;"), std::string::npos);
  const std::vector<std::string> row = Row(html, "q&lt;1&gt;");
  ASSERT_EQ(row.size(), 9u) << html;
  EXPECT_EQ(row[2], "2026-12-02T09:46:26Z (now)");
  EXPECT_EQ(row[7], "failed");
  EXPECT_EQ(row[8], "MALFORMED_QUERY: unexpected token: &#39;&lt;&#39;");
  EXPECT_NE(html.find("<td class=\"fail\">failed</td>"), std::string::npos);
}

// The text of the summary section of `org` ("" for a single org).
std::string Card(const std::string& html, const std::string& org) {
  const size_t start =
      html.find("<section class=\"org\" data-org=\"" + org + "\"");
  if (start == std::string::npos) return "";
  return html.substr(start, html.find("</section>", start) - start);
}

TEST(LandingPageTest, SummaryPerOrgShowsApiTokenUsageAndQueryCounts) {
  OrgSummary good;
  good.name = "prod";
  good.api_up = true;
  good.token.held = true;
  good.token.obtained = kNow - seconds(250);
  good.api.daily_used = 1500;
  good.api.daily_limit = 100000;
  QueryStatus ok;
  ok.name = "ec2";
  ok.last_run = kNow - seconds(5);
  ok.next_run = kNow + seconds(55);
  ok.success = true;
  good.queries = {ok};

  OrgSummary bad;
  bad.name = "staging";
  bad.token.last_failure =
      TokenFailure{"invalid_client", "invalid client credentials", ""};
  QueryStatus failed = ok;
  failed.name = "s3";
  failed.success = false;
  failed.last_error = "auth: no token";
  QueryStatus pending;
  pending.name = "gce";
  pending.next_run = kNow;
  bad.queries = {failed, pending};

  const std::string html =
      RenderLandingPage("1.0", "/metrics", {good, bad}, kNow);
  const std::string prod = Card(html, "prod");
  ASSERT_FALSE(prod.empty()) << html;
  EXPECT_NE(prod.find("<dt>API</dt><dd class=\"ok\">up</dd>"),
            std::string::npos)
      << prod;
  EXPECT_NE(prod.find("<dd class=\"ok\">held, obtained 4m 10s ago</dd>"),
            std::string::npos)
      << prod;
  EXPECT_NE(prod.find("1500 of 100000 calls today (2%)"), std::string::npos)
      << prod;
  EXPECT_NE(prod.find("<dd class=\"ok\">1 ok, 0 failed, 0 pending</dd>"),
            std::string::npos)
      << prod;

  const std::string staging = Card(html, "staging");
  ASSERT_FALSE(staging.empty()) << html;
  EXPECT_NE(staging.find("<dt>API</dt><dd class=\"fail\">down</dd>"),
            std::string::npos)
      << staging;
  EXPECT_NE(staging.find("<dd class=\"fail\">none: invalid_client (invalid "
                         "client credentials)</dd>"),
            std::string::npos)
      << staging;
  EXPECT_NE(staging.find("unknown until the first answer"), std::string::npos)
      << staging;
  EXPECT_NE(staging.find("<dd class=\"fail\">0 ok, 1 failed, 1 pending</dd>"),
            std::string::npos)
      << staging;

  // The summary comes before the table; rows carry the org and their state.
  EXPECT_LT(html.find("data-org=\"staging\""), html.find("<h2>Queries</h2>"));
  EXPECT_NE(html.find("<tr class=\"fail\"><td>"), std::string::npos);
  EXPECT_NE(html.find("<tr class=\"pending\"><td>"), std::string::npos);
  EXPECT_EQ(Row(html, CollectorKey("staging", "s3"))[7], "failed");
  EXPECT_EQ(Row(html, CollectorKey("staging", "gce"))[7], "pending");
  EXPECT_EQ(Row(html, CollectorKey("prod", "ec2"))[7], "ok");
  EXPECT_NE(html.find("name=\"viewport\""), std::string::npos);
}

}  // namespace
}  // namespace cloudaware_exporter
