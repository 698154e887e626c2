#include "exporter/web/basic_auth.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "bcrypt_util.h"

namespace cloudaware_exporter {
namespace {

using Result = BasicAuth::Result;

std::string Base64(const std::string& in) {
  static const char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const unsigned n = (static_cast<unsigned char>(in[i]) << 16) |
                       (static_cast<unsigned char>(in[i + 1]) << 8) |
                       static_cast<unsigned char>(in[i + 2]);
    for (int shift : {18, 12, 6, 0}) out += kAlphabet[(n >> shift) & 63];
  }
  if (i + 1 == in.size()) {
    const unsigned n = static_cast<unsigned char>(in[i]) << 16;
    out += std::string{kAlphabet[(n >> 18) & 63], kAlphabet[(n >> 12) & 63]} +
           "==";
  } else if (i + 2 == in.size()) {
    const unsigned n = (static_cast<unsigned char>(in[i]) << 16) |
                       (static_cast<unsigned char>(in[i + 1]) << 8);
    out += std::string{kAlphabet[(n >> 18) & 63], kAlphabet[(n >> 12) & 63],
                       kAlphabet[(n >> 6) & 63]} +
           "=";
  }
  return out;
}

std::string Header(const std::string& user, const std::string& password) {
  return "Basic " + Base64(user + ":" + password);
}

std::map<std::string, Secret> Users(int cost = 4) {
  return {{"alice", Secret(test_util::BcryptHash("alice-pw", cost))},
          {"bob", Secret(test_util::BcryptHash("bob-pw", cost))}};
}

TEST(BasicAuthTest, WithoutUsersEveryRequestPasses) {
  BasicAuth auth;
  EXPECT_FALSE(auth.enabled());
  EXPECT_EQ(auth.Check(""), Result::kOk);
  EXPECT_EQ(auth.Check("Basic !!"), Result::kOk);
  EXPECT_EQ(auth.stats().bcrypt_runs, 0u);
}

TEST(BasicAuthTest, ChecksPasswords) {
  BasicAuth auth(Users());
  EXPECT_TRUE(auth.enabled());
  EXPECT_EQ(auth.Check(Header("alice", "alice-pw")), Result::kOk);
  EXPECT_EQ(auth.Check(Header("bob", "bob-pw")), Result::kOk);
  EXPECT_EQ(auth.Check(Header("alice", "bob-pw")), Result::kDenied);
  EXPECT_EQ(auth.Check(Header("alice", "")), Result::kDenied);
  EXPECT_EQ(auth.Check(Header("alice", "alice-pw ")), Result::kDenied);
  EXPECT_EQ(auth.Check(Header("carol", "alice-pw")), Result::kDenied);
  EXPECT_EQ(auth.Check(Header("", "alice-pw")), Result::kDenied);
  // The scheme is case-insensitive (RFC 7235).
  EXPECT_EQ(auth.Check("basic " + Base64("alice:alice-pw")), Result::kOk);
  // Colons after the first belong to the password.
  BasicAuth colon({{"u", Secret(test_util::BcryptHash("a:b"))}});
  EXPECT_EQ(colon.Check(Header("u", "a:b")), Result::kOk);
}

TEST(BasicAuthTest, MalformedHeaders) {
  BasicAuth auth(Users());
  EXPECT_EQ(auth.Check(""), Result::kMissing);
  for (const std::string& header :
       {std::string("Bearer abc"), std::string("Basic"), std::string("Basic "),
        std::string("Basicx ") + Base64("alice:alice-pw"),
        "Basic " + Base64("alice-without-colon"), std::string("Basic !!!!"),
        "Basic " + Base64("alice:alice-pw").substr(1),
        "Basic " + Base64("alice:alice-pw") + "=",
        "Basic " + Base64("al:x") + Base64("al:x"),  // padding in the middle
        "Basic " + Base64(std::string("alice:alice-pw\0x", 16))}) {
    EXPECT_EQ(auth.Check(header), Result::kMalformed) << header;
  }
  EXPECT_EQ(auth.stats().bcrypt_runs, 0u);
}

TEST(BasicAuthTest, SuccessIsCached) {
  BasicAuth auth(Users());
  EXPECT_EQ(auth.Check(Header("alice", "alice-pw")), Result::kOk);
  EXPECT_EQ(auth.stats().bcrypt_runs, 1u);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(auth.Check(Header("alice", "alice-pw")), Result::kOk);
  }
  EXPECT_EQ(auth.stats().bcrypt_runs, 1u);
  // The cache is keyed by user and password together.
  EXPECT_EQ(auth.Check(Header("alice", "alice-pwx")), Result::kDenied);
  EXPECT_EQ(auth.Check(Header("bob", "alice-pw")), Result::kDenied);
  EXPECT_EQ(auth.stats().bcrypt_runs, 3u);
}

TEST(BasicAuthTest, RecentFailuresAreCached) {
  BasicAuth auth(Users());
  EXPECT_EQ(auth.Check(Header("alice", "wrong")), Result::kDenied);
  EXPECT_EQ(auth.Check(Header("alice", "wrong")), Result::kDenied);
  EXPECT_EQ(auth.stats().bcrypt_runs, 1u);
}

TEST(BasicAuthTest, UnknownUsersCostABcryptLikeKnownOnes) {
  BasicAuth auth(Users());
  EXPECT_EQ(auth.Check(Header("mallory", "guess")), Result::kDenied);
  EXPECT_EQ(auth.stats().bcrypt_runs, 1u);
  EXPECT_EQ(auth.Check(Header("alice", "guess")), Result::kDenied);
  EXPECT_EQ(auth.stats().bcrypt_runs, 2u);
}

TEST(BasicAuthTest, CacheIsBoundedAndLeastRecentlyUsedGoesFirst) {
  BasicAuthOptions options;
  options.failure_cache_size = 2;
  BasicAuth auth(Users(), options);
  auth.Check(Header("alice", "w1"));
  auth.Check(Header("alice", "w2"));
  auth.Check(Header("alice", "w1"));  // cached; w2 is now the oldest
  EXPECT_EQ(auth.stats().bcrypt_runs, 2u);
  auth.Check(Header("alice", "w3"));  // evicts w2
  EXPECT_EQ(auth.stats().bcrypt_runs, 3u);
  auth.Check(Header("alice", "w1"));
  EXPECT_EQ(auth.stats().bcrypt_runs, 3u);
  auth.Check(Header("alice", "w2"));
  EXPECT_EQ(auth.stats().bcrypt_runs, 4u);
}

TEST(BasicAuthTest, SetUsersForgetsTheCaches) {
  BasicAuth auth(Users());
  EXPECT_EQ(auth.Check(Header("alice", "alice-pw")), Result::kOk);
  EXPECT_EQ(auth.Check(Header("bob", "new-pw")), Result::kDenied);
  auth.SetUsers({{"bob", Secret(test_util::BcryptHash("new-pw"))}});
  EXPECT_EQ(auth.Check(Header("alice", "alice-pw")), Result::kDenied);
  EXPECT_EQ(auth.Check(Header("bob", "new-pw")), Result::kOk);
  EXPECT_EQ(auth.stats().bcrypt_runs, 4u);
  auth.SetUsers({});
  EXPECT_FALSE(auth.enabled());
  EXPECT_EQ(auth.Check(""), Result::kOk);
}

TEST(BasicAuthTest, BusyWithoutAFreeSlot) {
  BasicAuthOptions options;
  options.max_concurrent = 0;
  options.slot_wait = std::chrono::milliseconds(1);
  BasicAuth auth(Users(), options);
  EXPECT_EQ(auth.Check(Header("alice", "alice-pw")), Result::kBusy);
  EXPECT_EQ(auth.Check(Header("mallory", "x")), Result::kBusy);
  EXPECT_EQ(auth.stats().bcrypt_runs, 0u);
  EXPECT_EQ(auth.stats().busy, 2u);
}

// Many threads, each with wrong passwords the caches have not seen: every
// answer is a refusal, and no more bcrypt computations overlap than allowed.
TEST(BasicAuthTest, FloodRunsAtMostMaxConcurrentBcrypt) {
  constexpr int kThreads = 8;
  constexpr int kAttempts = 6;
  BasicAuthOptions options;
  options.max_concurrent = 2;
  // Generous: the assertion is about overlap, not about refusals.
  options.slot_wait = std::chrono::seconds(30);
  // Cost 6: a few milliseconds each, so that the threads do contend.
  BasicAuth auth(Users(6), options);
  std::atomic<int> denied{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kAttempts; ++i) {
        const std::string password =
            "guess-" + std::to_string(t) + "-" + std::to_string(i);
        if (auth.Check(Header(t % 2 ? "alice" : "mallory", password)) ==
            Result::kDenied) {
          ++denied;
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(denied.load(), kThreads * kAttempts);
  const BasicAuth::Stats stats = auth.stats();
  EXPECT_EQ(stats.bcrypt_runs, static_cast<uint64_t>(kThreads * kAttempts));
  EXPECT_GE(stats.max_concurrent_seen, 1);
  EXPECT_LE(stats.max_concurrent_seen, 2);
  EXPECT_EQ(stats.busy, 0u);
  // A scraper with the right password still gets in afterwards.
  EXPECT_EQ(auth.Check(Header("alice", "alice-pw")), Result::kOk);
}

}  // namespace
}  // namespace cloudaware_exporter
