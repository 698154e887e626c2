#include "exporter/web/basic_auth.h"

#include <crypt.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <utility>

namespace cloudaware_exporter {
namespace {

// What a configured hash of unknown cost is assumed to cost.
constexpr int kDefaultCost = 10;

// "$2b$10$..." -> 10.
int Cost(const std::string& hash) {
  if (hash.size() < 7 || hash[4] < '0' || hash[4] > '9' || hash[5] < '0' ||
      hash[5] > '9') {
    return kDefaultCost;
  }
  const int cost = (hash[4] - '0') * 10 + (hash[5] - '0');
  return cost >= 4 && cost <= 31 ? cost : kDefaultCost;
}

// What an unknown user's password is checked against: a fresh salt and a
// made-up checksum. Unknown users are refused whatever bcrypt says; the
// computation only makes them take as long as known ones.
std::string DummyHash(int cost) {
  char setting[CRYPT_GENSALT_OUTPUT_SIZE];
  if (crypt_gensalt_rn("$2b$", static_cast<unsigned long>(cost), nullptr, 0,
                       setting, sizeof(setting)) == nullptr) {
    throw std::runtime_error("cannot make a bcrypt salt");
  }
  return std::string(setting) + std::string(31, '.');
}

int Base64Value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

// Standard base64 with padding, as RFC 7617 and Go's r.BasicAuth() expect.
std::optional<std::string> DecodeBase64(std::string_view in) {
  if (in.empty() || in.size() % 4 != 0) return std::nullopt;
  std::string out;
  out.reserve(in.size() / 4 * 3);
  for (size_t i = 0; i < in.size(); i += 4) {
    const bool last = i + 4 == in.size();
    int v[4];
    int pad = 0;
    for (int j = 0; j < 4; ++j) {
      const char c = in[i + static_cast<size_t>(j)];
      if (c == '=' && last && j >= 2) {
        v[j] = 0;
        ++pad;
        continue;
      }
      if (pad > 0) return std::nullopt;  // data after padding
      v[j] = Base64Value(c);
      if (v[j] < 0) return std::nullopt;
    }
    const unsigned n = (static_cast<unsigned>(v[0]) << 18) |
                       (static_cast<unsigned>(v[1]) << 12) |
                       (static_cast<unsigned>(v[2]) << 6) |
                       static_cast<unsigned>(v[3]);
    out += static_cast<char>((n >> 16) & 0xff);
    if (pad < 2) out += static_cast<char>((n >> 8) & 0xff);
    if (pad < 1) out += static_cast<char>(n & 0xff);
  }
  return out;
}

bool StartsWithIgnoreCase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(s[i])) !=
        std::tolower(static_cast<unsigned char>(prefix[i]))) {
      return false;
    }
  }
  return true;
}

}  // namespace

struct BasicAuth::Users {
  std::map<std::string, Secret> hashes;
  std::string dummy_hash;
  uint64_t generation = 0;
};

// A fixed number of digests, least recently used first out. Every lookup
// compares against every slot in constant time, so how long it takes says
// nothing about which entry matched.
class BasicAuth::DigestCache {
 public:
  explicit DigestCache(size_t capacity) : capacity_(capacity) {}

  bool Find(const Digest& digest) {
    Entry* found = nullptr;
    for (Entry& e : entries_) {
      const bool match =
          CRYPTO_memcmp(e.digest.data(), digest.data(), digest.size()) == 0;
      if (match) found = &e;
    }
    if (found != nullptr) found->last_use = ++clock_;
    return found != nullptr;
  }

  void Insert(const Digest& digest) {
    if (capacity_ == 0 || Find(digest)) return;
    if (entries_.size() < capacity_) {
      entries_.push_back({digest, ++clock_});
      return;
    }
    auto oldest = std::min_element(
        entries_.begin(), entries_.end(),
        [](const Entry& a, const Entry& b) { return a.last_use < b.last_use; });
    *oldest = {digest, ++clock_};
  }

  void Clear() { entries_.clear(); }

 private:
  struct Entry {
    Digest digest;
    uint64_t last_use;
  };
  const size_t capacity_;
  std::vector<Entry> entries_;
  uint64_t clock_ = 0;
};

BasicAuth::BasicAuth(std::map<std::string, Secret> users, Options options)
    : options_(options),
      successes_(std::make_unique<DigestCache>(options.success_cache_size)),
      failures_(std::make_unique<DigestCache>(options.failure_cache_size)) {
  if (RAND_bytes(hmac_key_.data(), static_cast<int>(hmac_key_.size())) != 1) {
    throw std::runtime_error("cannot draw a random key for the auth cache");
  }
  SetUsers(std::move(users));
}

BasicAuth::~BasicAuth() = default;

void BasicAuth::SetUsers(std::map<std::string, Secret> users) {
  auto next = std::make_shared<Users>();
  int cost = 0;
  for (const auto& [name, hash] : users) {
    cost = std::max(cost, Cost(hash.Reveal()));
  }
  next->dummy_hash = DummyHash(cost > 0 ? cost : kDefaultCost);
  next->hashes = std::move(users);
  std::lock_guard<std::mutex> lock(mu_);
  next->generation = users_ ? users_->generation + 1 : 0;
  users_ = std::move(next);
  successes_->Clear();
  failures_->Clear();
}

bool BasicAuth::enabled() const {
  std::lock_guard<std::mutex> lock(mu_);
  return !users_->hashes.empty();
}

BasicAuth::Digest BasicAuth::Key(std::string_view user,
                                 std::string_view password) const {
  // The length prefix keeps ("ab", "c") and ("a", "bc") apart.
  std::string message = std::to_string(user.size()) + ":";
  message.append(user);
  message.append(password);
  Digest digest{};
  unsigned int length = 0;
  if (HMAC(EVP_sha256(), hmac_key_.data(), static_cast<int>(hmac_key_.size()),
           reinterpret_cast<const unsigned char*>(message.data()),
           message.size(), digest.data(), &length) == nullptr) {
    throw std::runtime_error("HMAC-SHA-256 failed");
  }
  return digest;
}

bool BasicAuth::Verify(const std::string& password, const std::string& hash,
                       bool* match) {
  {
    std::unique_lock<std::mutex> lock(slot_mu_);
    if (!slot_cv_.wait_for(lock, options_.slot_wait, [this] {
          return running_ < options_.max_concurrent;
        })) {
      ++busy_;
      return false;
    }
    ++running_;
    int seen = max_concurrent_seen_.load();
    while (running_ > seen &&
           !max_concurrent_seen_.compare_exchange_weak(seen, running_)) {
    }
  }
  struct Release {
    BasicAuth* self;
    ~Release() {
      {
        std::lock_guard<std::mutex> lock(self->slot_mu_);
        --self->running_;
      }
      self->slot_cv_.notify_one();
    }
  } release{this};
  ++bcrypt_runs_;
  // About 32 KiB: too large for a worker's stack to hold comfortably.
  auto data = std::make_unique<crypt_data>();
  const char* out = crypt_rn(password.c_str(), hash.c_str(), data.get(),
                             static_cast<int>(sizeof(crypt_data)));
  *match = out != nullptr && std::strlen(out) == hash.size() &&
           CRYPTO_memcmp(out, hash.data(), hash.size()) == 0;
  return true;
}

BasicAuth::Result BasicAuth::Check(std::string_view authorization) {
  std::shared_ptr<const Users> users;
  {
    std::lock_guard<std::mutex> lock(mu_);
    users = users_;
  }
  if (users->hashes.empty()) return Result::kOk;
  if (authorization.empty()) return Result::kMissing;
  if (!StartsWithIgnoreCase(authorization, "Basic ")) {
    return Result::kMalformed;
  }
  std::string_view token = authorization.substr(6);
  token.remove_prefix(std::min(token.find_first_not_of(' '), token.size()));
  std::optional<std::string> decoded = DecodeBase64(token);
  if (!decoded) return Result::kMalformed;
  const size_t colon = decoded->find(':');
  // A NUL would end the password for crypt_rn, so that anything after it
  // would be ignored.
  if (colon == std::string::npos || decoded->find('\0') != std::string::npos) {
    return Result::kMalformed;
  }
  const std::string user = decoded->substr(0, colon);
  const std::string password = decoded->substr(colon + 1);

  const Digest key = Key(user, password);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (users_->generation == users->generation) {
      if (successes_->Find(key)) return Result::kOk;
      if (failures_->Find(key)) return Result::kDenied;
    }
  }

  auto known = users->hashes.find(user);
  const bool exists = known != users->hashes.end();
  const std::string& hash = exists ? known->second.Reveal() : users->dummy_hash;
  bool match = false;
  if (!Verify(password, hash, &match)) return Result::kBusy;
  const bool ok = exists && match;
  {
    // A reload while bcrypt ran may have changed the password.
    std::lock_guard<std::mutex> lock(mu_);
    if (users_->generation == users->generation) {
      (ok ? successes_ : failures_)->Insert(key);
    }
  }
  return ok ? Result::kOk : Result::kDenied;
}

BasicAuth::Stats BasicAuth::stats() const {
  Stats s;
  s.bcrypt_runs = bcrypt_runs_.load();
  s.max_concurrent_seen = max_concurrent_seen_.load();
  s.busy = busy_.load();
  return s;
}

}  // namespace cloudaware_exporter
