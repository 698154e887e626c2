// Reading the text exposition format in tests.
#ifndef CLOUDAWARE_EXPORTER_TESTS_EXPOSITION_UTIL_H_
#define CLOUDAWARE_EXPORTER_TESTS_EXPOSITION_UTIL_H_

#include <map>
#include <sstream>
#include <string>

namespace test_util {

// name{labels} -> value, for the series of one metric in an exposition.
inline std::map<std::string, double> Series(const std::string& text,
                                            const std::string& metric) {
  std::map<std::string, double> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    size_t end = line.find_first_of("{ ");
    if (end == std::string::npos || line.substr(0, end) != metric) continue;
    size_t space = line.rfind(' ');
    std::string labels =
        line[end] == '{' ? line.substr(end, line.rfind('}') - end + 1) : "";
    out[labels] = std::stod(line.substr(space + 1));
  }
  return out;
}

}  // namespace test_util

#endif  // CLOUDAWARE_EXPORTER_TESTS_EXPOSITION_UTIL_H_
