// cmdb_simulator: a fake Cloudaware CMDB (Salesforce REST) API on loopback,
// faithful to Salesforce's REST API documentation: the OAuth client-credentials
// token endpoint, revoke and introspect, versions, query (with paging), limits,
// composite, describe, Sforce-Limit-Info accounting, and fault injection.
//
// Tests start it in-process on an ephemeral port; the cmdb_simulator binary
// wraps the same class. The control API lives under /_sim/ on the same
// server (see README.md in this folder). All public methods are thread-safe.
#ifndef CMDB_SIMULATOR_SIMULATOR_H_
#define CMDB_SIMULATOR_SIMULATOR_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "simulator/inventory.h"

namespace cmdb_simulator {

struct SimulatorOptions {
  std::string host = "127.0.0.1";
  int port = 0;  // 0 picks a free port
  // Both set: serve HTTPS only.
  std::string tls_cert_file;
  std::string tls_key_file;

  // The External Client App's consumer key and secret.
  std::string client_id = "sim-client-id";
  std::string client_secret = "sim-client-secret";
  // False: the app has no Run As user, so token requests fail with
  // invalid_grant "no client credentials user enabled".
  bool run_as_user = true;
  // Sessions expire after this long without use: the org default session
  // timeout is 2 hours.
  std::chrono::milliseconds token_idle_timeout = std::chrono::hours(2);
  // Unverified: whether a second token request returns the live token. Default:
  // a new token each time.
  bool reuse_tokens = false;
  // Unverified: status of invalid_client when the client authenticated
  // with HTTP Basic (RFC 6749 section 5.2 suggests 401; Salesforce documents
  // 400 for OAuth errors).
  int basic_invalid_client_status = 400;
  // Successful token requests allowed per user and rolling hour; Salesforce
  // blocks more with LOGIN_RATE_EXCEEDED.
  int logins_per_hour = 3600;
  // Empty: scheme://<Host header of the token request>.
  std::string instance_url;

  // The rolling 24 h allocation and what is already spent, as GET /limits
  // and Sforce-Limit-Info report them.
  int64_t daily_limit = 100000;
  int64_t daily_used = 0;
  // Unverified: whether GET /limits costs a call.
  bool limits_call_counts = true;

  // Supported versions; those from 20.0 up to the minimum are retired (410).
  int min_api_version = 31;
  int max_api_version = 68;

  // Unverified: an aggregate result over 2,000 rows either fails at
  // once ("error") or returns the first 2,000 rows with done=false and fails
  // on the follow-up ("truncate").
  std::string aggregate_overflow = "error";
  std::string aggregate_overflow_error_code = "MALFORMED_QUERY";

  // Worker threads; each open keep-alive connection holds one.
  int threads = 64;

  // The data; generated from default GenerateOptions when null.
  std::shared_ptr<const Inventory> inventory;
  // Faults in place from the start, as accepted by AddFaults.
  nlohmann::json faults;
};

class Simulator {
 public:
  explicit Simulator(SimulatorOptions options);
  ~Simulator();
  Simulator(const Simulator&) = delete;
  Simulator& operator=(const Simulator&) = delete;

  // Binds and serves on a background thread; returns once it accepts
  // connections. Throws std::runtime_error if it cannot bind or load TLS.
  void Start();
  // Releases hung requests, closes connections and joins. Idempotent.
  void Stop();

  int port() const;
  // http(s)://host:port
  std::string base_url() const;

  // The same operations as the /_sim/ control API, for in-process tests.
  // AddFaults takes one fault object or an array; throws
  // std::invalid_argument naming the bad field.
  void AddFaults(const nlohmann::json& faults);
  void ClearFaults();
  void ExpireAllTokens();
  void SetInventory(std::shared_ptr<const Inventory> inventory);
  std::shared_ptr<const Inventory> inventory() const;
  // Runtime settings: client_id, client_secret, run_as_user,
  // token_idle_timeout (a duration string), daily_limit, daily_used,
  // reuse_tokens, aggregate_overflow, logins_per_hour, instance_url.
  void Configure(const nlohmann::json& settings);
  // Every API request so far, oldest first: seq, time_ms, method, path,
  // host (the Host header), endpoint, status, counted, cost, fault, and q
  // (the SOQL of a query, else null).
  nlohmann::json RequestLog() const;
  void ClearRequestLog();
  // Counters: daily_used, daily_limit, logins, token_requests,
  // active_tokens, requests and calls per endpoint, in_flight.
  nlohmann::json Stats() const;

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace cmdb_simulator

#endif  // CMDB_SIMULATOR_SIMULATOR_H_
