#include "exporter/app/status_json.h"

#include <optional>

#include "exporter/base/rfc3339.h"

namespace cloudaware_exporter {
namespace {

using json = nlohmann::ordered_json;
using WallTime = std::chrono::system_clock::time_point;

json Time(const std::optional<WallTime>& t) {
  if (!t) return nullptr;
  return FormatRfc3339(*t);
}

json Token(const TokenStatus& t) {
  json failure = nullptr;
  if (t.last_failure) {
    failure = {{"result", t.last_failure->result},
               {"message", t.last_failure->message},
               {"hint", t.last_failure->hint},
               {"time", Time(t.last_failure_time)}};
  }
  return {{"held", t.held},
          {"obtained", Time(t.obtained)},
          {"requests", t.requests},
          {"last_failure", failure},
          {"backoff", t.backoff_until.has_value()},
          {"backoff_until", Time(t.backoff_until)}};
}

json Api(const ApiBudget& b) {
  auto number = [](const std::optional<int64_t>& n) -> json {
    if (!n) return nullptr;
    return *n;
  };
  return {{"daily_used", number(b.daily_used)},
          {"daily_limit", number(b.daily_limit)},
          {"interval_stretch", b.interval_stretch},
          {"composite_refused", b.composite_refused},
          {"paused", b.paused_until.has_value()},
          {"paused_until", Time(b.paused_until)}};
}

json Query(const QueryStatus& q) {
  json duration = nullptr;
  if (q.last_run) duration = q.duration_seconds;
  return {
      {"name", q.name},
      {"interval_seconds", std::chrono::duration<double>(q.interval).count()},
      {"last_run", Time(q.last_run)},
      {"next_run", FormatRfc3339(q.next_run)},
      {"last_success", Time(q.last_success)},
      {"duration_seconds", duration},
      {"rows", q.rows},
      {"series", q.series},
      {"success", q.success},
      {"running", q.running},
      {"last_error", q.last_error}};
}

}  // namespace

json StatusJson(const ExporterStatus& status) {
  json orgs = json::array();
  for (const OrgStatus& org : status.orgs) {
    json queries = json::array();
    for (const auto& q : org.queries) queries.push_back(Query(q));
    orgs.push_back({{"name", org.name},
                    {"url", org.url},
                    {"ready", org.ready},
                    {"token", Token(org.token)},
                    {"api", Api(org.api)},
                    {"queries", std::move(queries)}});
  }
  return {
      {"version", status.version},
      {"revision", status.revision},
      {"start_time", FormatRfc3339(status.start_time)},
      {"config", {{"file", status.config_file}, {"yaml", status.config_yaml}}},
      {"orgs", std::move(orgs)}};
}

}  // namespace cloudaware_exporter
