// Snapshots of an org's API state, as plain values: the token source and the
// query client take them, /status, the landing page and the self metrics
// read them without knowing either.
#ifndef CLOUDAWARE_EXPORTER_CMDB_API_STATUS_H_
#define CLOUDAWARE_EXPORTER_CMDB_API_STATUS_H_

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace cloudaware_exporter {

// Why a token request failed: the `result` label of
// cloudaware_token_requests_total, a message naming the endpoint, and what to
// do about it.
struct TokenFailure {
  std::string result;
  std::string message;
  std::string hint;
};

// A snapshot of the token's state for /status: never the token itself.
struct TokenStatus {
  using WallTime = std::chrono::system_clock::time_point;
  bool held = false;
  std::optional<WallTime> obtained;  // when a token was last obtained
  std::optional<TokenFailure> last_failure;
  std::optional<WallTime> last_failure_time;
  // Set while no token request would be sent: the backoff after a failure,
  // or the cap on requests per minute.
  std::optional<WallTime> backoff_until;
  uint64_t requests = 0;  // token requests sent since start or reload
};

// A snapshot of the API allocation and the client's reactions to it, for
// /status.
struct ApiBudget {
  // From the last Sforce-Limit-Info header; unset before the first answer.
  std::optional<int64_t> daily_used;
  std::optional<int64_t> daily_limit;
  double interval_stretch = 1;  // the budget guard's multiplier
  bool composite_refused = false;
  // Set while calls are paused after REQUEST_LIMIT_EXCEEDED.
  std::optional<std::chrono::system_clock::time_point> paused_until;
};

}  // namespace cloudaware_exporter

#endif  // CLOUDAWARE_EXPORTER_CMDB_API_STATUS_H_
