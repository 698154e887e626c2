#include "exporter/app/landing_page.h"

#include <cstdint>
#include <cstdio>
#include <ctime>

#include "exporter/base/duration.h"

namespace cloudaware_exporter {
namespace {

std::string IsoTime(QueryStatus::WallTime t) {
  std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

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
  return IsoTime(*t) + " (" + relative + ")";
}

// A next run already past is waiting for a worker, or running.
std::string NextRun(QueryStatus::WallTime t, QueryStatus::WallTime now) {
  if (t <= now) return IsoTime(t) + " (due)";
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

std::string RenderLandingPage(const std::string& version,
                              const std::string& telemetry_path,
                              const std::vector<QueryStatus>& queries,
                              QueryStatus::WallTime now) {
  std::string h =
      "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Cloudaware "
      "Exporter</title>\n<style>body{font-family:sans-serif;margin:2em}"
      "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px "
      "8px;"
      "text-align:left}.fail{color:#b00}</style></head><body>\n"
      "<h1>Cloudaware Exporter</h1>\n<p>Version " +
      HtmlEscape(version) + "</p>\n<ul>\n<li><a href=\"" +
      HtmlEscape(telemetry_path) +
      "\">Metrics</a></li>\n<li><a href=\"/-/healthy\">Health</a></li>\n"
      "<li><a href=\"/status\">Status (JSON)</a></li>\n"
      "<li><a href=\"/-/ready\">Readiness</a></li>\n</ul>\n<h2>Queries</h2>\n"
      "<table>\n<tr><th>query</th><th>interval</th><th>last run</th><th>next "
      "run</th>"
      "<th>duration</th><th>rows</th><th>series</th><th>status</th><th>last "
      "error</th></tr>\n";
  for (const auto& q : queries) {
    char duration[32];
    std::snprintf(duration, sizeof duration, "%.3fs", q.duration_seconds);
    std::string status = q.running     ? "running"
                         : !q.last_run ? "pending"
                         : q.success   ? "ok"
                                       : "failed";
    h += "<tr><td>" + HtmlEscape(q.name) + "</td><td>" +
         FormatDuration(q.interval) + "</td><td>" + Time(q.last_run, now) +
         "</td><td>" + NextRun(q.next_run, now) + "</td><td>" +
         (q.last_run ? duration : "") + "</td><td>" + std::to_string(q.rows) +
         "</td><td>" + std::to_string(q.series) + "</td><td" +
         (status == "failed" ? " class=\"fail\"" : "") + ">" + status +
         "</td><td>" + HtmlEscape(q.last_error) + "</td></tr>\n";
  }
  h += "</table>\n</body></html>\n";
  return h;
}

}  // namespace cloudaware_exporter
