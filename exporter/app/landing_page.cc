#include "exporter/app/landing_page.h"

#include <cstdint>
#include <cstdio>

#include "exporter/base/duration.h"
#include "exporter/base/rfc3339.h"
#include "exporter/pipeline/poller.h"

namespace cloudaware_exporter {
namespace {

// "2026-12-02T09:46:26Z (2m 5s ago)", or "(in 4m 10s)" for a future time.
std::string Time(const std::optional<QueryStatus::WallTime>& t,
                 QueryStatus::WallTime now) {
  if (!t) return "never";
  const auto ago = std::chrono::floor<std::chrono::seconds>(now - *t);
  std::string relative;
  if (ago.count() > 0) {
    relative = FormatSpan(ago) + " ago";
  } else if (ago.count() < 0) {
    relative = "in " + FormatSpan(-ago);
  } else {
    relative = "now";
  }
  return FormatRfc3339(*t, Precision::kSeconds) + " (" + relative + ")";
}

// A next run already past is waiting for a worker, or running.
std::string NextRun(QueryStatus::WallTime t, QueryStatus::WallTime now) {
  if (t <= now) return FormatRfc3339(t, Precision::kSeconds) + " (due)";
  return Time(t, now);
}

}  // namespace

std::string FormatSpan(std::chrono::seconds d) {
  struct Unit {
    int64_t seconds;
    const char* suffix;
  };
  static constexpr Unit kUnits[] = {
      {86400, "d"}, {3600, "h"}, {60, "m"}, {1, "s"}};
  int64_t left = d.count() < 0 ? 0 : d.count();
  std::string out;
  int shown = 0;
  for (const Unit& unit : kUnits) {
    const int64_t n = left / unit.seconds;
    if (shown == 0 && n == 0 && unit.seconds > 1) continue;
    // After the largest unit only the next one counts: "2h 5m", not "2h 0m".
    if (shown == 1 && n == 0) break;
    left -= n * unit.seconds;
    out += (shown ? " " : "") + std::to_string(n) + unit.suffix;
    if (++shown == 2) break;
  }
  return out;
}

std::string HtmlEscape(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

namespace {

std::string Style() {
  return "<style>body{font-family:sans-serif;margin:1em;max-width:80em}"
         "table{border-collapse:collapse}td,th{border:1px solid #ccc;"
         "padding:4px 8px;text-align:left;vertical-align:top}"
         ".scroll{overflow-x:auto}.fail{background:#fdd;color:#900}"
         ".pending{background:#ffd;color:#650}.ok{color:#060}"
         ".orgs{display:flex;flex-wrap:wrap;gap:1em;margin-bottom:1em}"
         ".org{border:1px solid #ccc;padding:.5em 1em;min-width:14em}"
         ".org h3{margin:.2em 0}.org dl{margin:0}.org dt{font-weight:bold}"
         ".org dd{margin:0 0 .4em 0;overflow-wrap:anywhere}</style>";
}

std::string Head() {
  return "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
         "<meta name=\"viewport\" content=\"width=device-width, "
         "initial-scale=1\"><title>Cloudaware Exporter</title>\n" +
         Style() + "</head><body>\n";
}

std::string Links(const std::string& version,
                  const std::string& telemetry_path) {
  return "<h1>Cloudaware Exporter</h1>\n<p>Version " + HtmlEscape(version) +
         "</p>\n<ul>\n<li><a href=\"" + HtmlEscape(telemetry_path) +
         "\">Metrics</a></li>\n<li><a href=\"/-/healthy\">Health</a></li>\n"
         "<li><a href=\"/status\">Status (JSON)</a></li>\n"
         "<li><a href=\"/-/ready\">Readiness</a></li>\n</ul>\n";
}

std::string QueryState(const QueryStatus& q) {
  return q.running     ? "running"
         : !q.last_run ? "pending"
         : q.success   ? "ok"
                       : "failed";
}

std::string QueryTable(const std::vector<QueryStatus>& queries,
                       QueryStatus::WallTime now) {
  std::string h =
      "<h2>Queries</h2>\n<div class=\"scroll\"><table>\n<tr><th>query</th>"
      "<th>interval</th><th>last run</th><th>next run</th><th>duration</th>"
      "<th>rows</th><th>series</th><th>status</th><th>last error</th></tr>\n";
  for (const auto& q : queries) {
    char duration[32];
    std::snprintf(duration, sizeof duration, "%.3fs", q.duration_seconds);
    const std::string status = QueryState(q);
    const std::string cls = status == "failed"    ? " class=\"fail\""
                            : status == "pending" ? " class=\"pending\""
                                                  : "";
    h += "<tr" + cls + "><td>" + HtmlEscape(q.name) + "</td><td>" +
         FormatDuration(q.interval) + "</td><td>" + Time(q.last_run, now) +
         "</td><td>" + NextRun(q.next_run, now) + "</td><td>" +
         (q.last_run ? duration : "") + "</td><td>" + std::to_string(q.rows) +
         "</td><td>" + std::to_string(q.series) + "</td><td" + cls + ">" +
         status + "</td><td>" + HtmlEscape(q.last_error) + "</td></tr>\n";
  }
  return h + "</table></div>\n";
}

// "held, obtained 4m 10s ago", or why there is none.
std::string TokenState(const TokenStatus& t, QueryStatus::WallTime now) {
  if (t.held && t.obtained) {
    return "held, obtained " +
           FormatSpan(
               std::chrono::floor<std::chrono::seconds>(now - *t.obtained)) +
           " ago";
  }
  if (t.held) return "held";
  if (t.last_failure) {
    std::string s = "none: " + t.last_failure->result;
    if (!t.last_failure->message.empty())
      s += " (" + t.last_failure->message + ")";
    return s;
  }
  return "none yet";
}

std::string ApiUsage(const ApiBudget& api) {
  if (!api.daily_used || !api.daily_limit)
    return "unknown until the first answer";
  std::string s = std::to_string(*api.daily_used) + " of " +
                  std::to_string(*api.daily_limit) + " calls today";
  if (*api.daily_limit > 0) {
    char pct[16];
    std::snprintf(pct, sizeof pct, " (%.0f%%)",
                  100.0 * static_cast<double>(*api.daily_used) /
                      static_cast<double>(*api.daily_limit));
    s += pct;
  }
  if (api.paused_until) s += ", paused: request limit exceeded";
  return s;
}

std::string OrgCard(const OrgSummary& org, QueryStatus::WallTime now) {
  size_t failed = 0, pending = 0;
  for (const auto& q : org.queries) {
    const std::string state = QueryState(q);
    failed += state == "failed";
    pending += state == "pending";
  }
  const bool token_ok = org.token.held;
  auto dd = [](bool good, const std::string& text) {
    return std::string("<dd class=\"") + (good ? "ok" : "fail") + "\">" +
           HtmlEscape(text) + "</dd>";
  };
  std::string queries = std::to_string(org.queries.size() - failed - pending) +
                        " ok, " + std::to_string(failed) + " failed, " +
                        std::to_string(pending) + " pending";
  return "<section class=\"org\" data-org=\"" + HtmlEscape(org.name) +
         "\"><h3>" +
         (org.name.empty() ? "Org" : "Org " + HtmlEscape(org.name)) +
         "</h3><dl><dt>API</dt>" + dd(org.api_up, org.api_up ? "up" : "down") +
         "<dt>Token</dt>" + dd(token_ok, TokenState(org.token, now)) +
         "<dt>API usage</dt><dd>" + HtmlEscape(ApiUsage(org.api)) +
         "</dd><dt>Queries</dt>" + dd(failed == 0 && pending == 0, queries) +
         "</dl></section>\n";
}

}  // namespace

std::string RenderLandingPage(const std::string& version,
                              const std::string& telemetry_path,
                              const std::vector<OrgSummary>& orgs,
                              QueryStatus::WallTime now) {
  std::string h = Head() + Links(version, telemetry_path) +
                  "<h2>Orgs</h2>\n<div class=\"orgs\">\n";
  std::vector<QueryStatus> queries;
  for (const OrgSummary& org : orgs) {
    h += OrgCard(org, now);
    for (QueryStatus q : org.queries) {
      q.name = CollectorKey(org.name, q.name);
      queries.push_back(std::move(q));
    }
  }
  return h + "</div>\n" + QueryTable(queries, now) + "</body></html>\n";
}

std::string RenderLandingPage(const std::string& version,
                              const std::string& telemetry_path,
                              const std::vector<QueryStatus>& queries,
                              QueryStatus::WallTime now) {
  return Head() + Links(version, telemetry_path) + QueryTable(queries, now) +
         "</body></html>\n";
}

}  // namespace cloudaware_exporter
