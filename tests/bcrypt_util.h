// bcrypt hashes for tests, made at run time with libxcrypt.
#ifndef CLOUDAWARE_EXPORTER_TESTS_BCRYPT_UTIL_H_
#define CLOUDAWARE_EXPORTER_TESTS_BCRYPT_UTIL_H_

#include <crypt.h>

#include <memory>
#include <stdexcept>
#include <string>

namespace test_util {

// Cost 4 takes about a millisecond; production hashes use 10 or more.
inline std::string BcryptHash(const std::string& password, int cost = 4) {
  char setting[CRYPT_GENSALT_OUTPUT_SIZE];
  if (crypt_gensalt_rn("$2b$", static_cast<unsigned long>(cost), nullptr, 0,
                       setting, sizeof(setting)) == nullptr) {
    throw std::runtime_error("crypt_gensalt_rn failed");
  }
  auto data = std::make_unique<crypt_data>();
  const char* hash = crypt_rn(password.c_str(), setting, data.get(),
                              static_cast<int>(sizeof(crypt_data)));
  if (hash == nullptr) throw std::runtime_error("crypt_rn failed");
  return hash;
}

}  // namespace test_util

#endif  // CLOUDAWARE_EXPORTER_TESTS_BCRYPT_UTIL_H_
