// The waits after repeated failures, shared by API retries and token
// requests, so that both back off alike: min, 2 × min, 4 × min, … up to max.
#ifndef CLOUDAWARE_EXPORTER_BACKOFF_H_
#define CLOUDAWARE_EXPORTER_BACKOFF_H_

#include <algorithm>
#include <chrono>
#include <cstdint>

namespace cloudaware_exporter {

// The wait after the failure numbered `failure` (from 0): min × 2^failure,
// at most max. The doubling stops at 2^20, where any sane max has long been
// reached, so the product cannot overflow.
inline std::chrono::milliseconds Backoff(std::chrono::milliseconds min,
                                         std::chrono::milliseconds max,
                                         int failure) {
  const int doublings = std::clamp(failure, 0, 20);
  return std::min(max, min * (int64_t{1} << doublings));
}

}  // namespace cloudaware_exporter

#endif  // CLOUDAWARE_EXPORTER_BACKOFF_H_
