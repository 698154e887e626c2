// Splits a fuzzer input into an HTTP status and a body, so that seeds stay
// readable files such as "400 [{...}]".
#ifndef CLOUDAWARE_EXPORTER_TESTS_FUZZ_FUZZ_INPUT_H_
#define CLOUDAWARE_EXPORTER_TESTS_FUZZ_FUZZ_INPUT_H_

#include <cstddef>
#include <cstdint>
#include <string>

namespace cloudaware_exporter {

struct StatusAndBody {
  int status = 200;
  std::string body;
};

// "NNN body" or "NNN\nbody" with three ASCII digits; anything else is a
// body answered with 200.
inline StatusAndBody SplitStatus(const uint8_t* data, size_t size) {
  const char* text = reinterpret_cast<const char*>(data);
  auto digit = [&](size_t i) { return text[i] >= '0' && text[i] <= '9'; };
  if (size >= 4 && digit(0) && digit(1) && digit(2) &&
      (text[3] == ' ' || text[3] == '\n')) {
    return {(text[0] - '0') * 100 + (text[1] - '0') * 10 + (text[2] - '0'),
            std::string(text + 4, size - 4)};
  }
  return {200, std::string(text, size)};
}

}  // namespace cloudaware_exporter

#endif  // CLOUDAWARE_EXPORTER_TESTS_FUZZ_FUZZ_INPUT_H_
