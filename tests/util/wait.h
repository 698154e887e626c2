// The one wait loop of the tests that watch processes: bounded in time,
// polling at a fixed pace.
#ifndef CLOUDAWARE_EXPORTER_TESTS_UTIL_WAIT_H_
#define CLOUDAWARE_EXPORTER_TESTS_UTIL_WAIT_H_

#include <chrono>
#include <functional>
#include <thread>

namespace test_util {

// Polls check every 250 ms until it holds or the timeout passes.
inline bool Eventually(std::chrono::seconds timeout,
                       const std::function<bool()>& check) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (check()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  return check();
}

}  // namespace test_util

#endif  // CLOUDAWARE_EXPORTER_TESTS_UTIL_WAIT_H_
