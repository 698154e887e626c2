// HTTP basic auth against the bcrypt hashes of the web config, at a bounded
// cost. bcrypt is slow on purpose (about 0.1 s of CPU at cost 10), so a
// client sending wrong passwords could otherwise keep every core busy and
// starve the scrapes. Hence:
//  - verified credentials are remembered, so a scraper pays for bcrypt once;
//  - recent failures are remembered, so a scraper with a stale password
//    costs nothing on its next scrapes;
//  - at most `max_concurrent` bcrypt computations run at once; a request
//    that gets no slot within `slot_wait` is refused without one;
//  - an unknown user is checked against a dummy hash at the highest
//    configured cost, so the answer takes as long as for a known user.
// Both caches are small LRUs keyed by HMAC-SHA-256 of user and password
// under a key drawn at start-up, searched with constant-time comparisons;
// they hold neither passwords nor hashes.
//
// Thread-safe: WebServer's handler threads call Check(); a reload calls
// SetUsers(), which forgets both caches.
#ifndef CLOUDAWARE_EXPORTER_BASIC_AUTH_H_
#define CLOUDAWARE_EXPORTER_BASIC_AUTH_H_

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "exporter/base/secret.h"

namespace cloudaware_exporter {

struct BasicAuthOptions {
  int max_concurrent = 1;
  // About one cost-10 bcrypt: a login that finds one under way may wait
  // for it, but a flood of them does not hold the server's few handler
  // threads for long.
  std::chrono::milliseconds slot_wait{100};
  size_t success_cache_size = 64;
  size_t failure_cache_size = 256;
};

class BasicAuth {
 public:
  using Options = BasicAuthOptions;

  enum class Result {
    kOk,
    kMissing,    // no Authorization header
    kMalformed,  // not "Basic base64(user:password)"
    kDenied,     // unknown user or wrong password
    kBusy,       // no bcrypt slot within slot_wait
  };

  // For tests and logs; never includes a credential.
  struct Stats {
    uint64_t bcrypt_runs = 0;
    int max_concurrent_seen = 0;
    uint64_t busy = 0;
  };

  // users: user name -> bcrypt hash (see IsBcryptHash). Empty: Check()
  // accepts every request.
  explicit BasicAuth(std::map<std::string, Secret> users = {},
                     Options options = {});
  ~BasicAuth();
  BasicAuth(const BasicAuth&) = delete;
  BasicAuth& operator=(const BasicAuth&) = delete;

  void SetUsers(std::map<std::string, Secret> users);
  bool enabled() const;

  // authorization: the Authorization header's value, empty when absent.
  Result Check(std::string_view authorization);

  Stats stats() const;

  using Digest = std::array<unsigned char, 32>;

 private:
  struct Users;
  class DigestCache;

  Digest Key(std::string_view user, std::string_view password) const;
  // Runs bcrypt in a slot; false when no slot came free in time.
  bool Verify(const std::string& password, const std::string& hash,
              bool* match);

  const Options options_;
  std::array<unsigned char, 32> hmac_key_;

  mutable std::mutex mu_;  // guards users_ and the caches
  std::shared_ptr<const Users> users_;
  std::unique_ptr<DigestCache> successes_;
  std::unique_ptr<DigestCache> failures_;

  std::mutex slot_mu_;
  std::condition_variable slot_cv_;
  int running_ = 0;  // guarded by slot_mu_

  std::atomic<uint64_t> bcrypt_runs_{0};
  std::atomic<int> max_concurrent_seen_{0};
  std::atomic<uint64_t> busy_{0};
};

}  // namespace cloudaware_exporter

#endif  // CLOUDAWARE_EXPORTER_BASIC_AUTH_H_
