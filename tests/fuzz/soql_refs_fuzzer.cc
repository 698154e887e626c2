// Fuzzes the SOQL reader of --config.check.online, which reads every query
// of a config: SoqlError is the only answer to text it cannot read, and a
// LIMIT set by WithLimit is read back as that LIMIT.
#include <cstdint>
#include <string>
#include <string_view>

#include "exporter/config/soql_refs.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cloudaware_exporter;
  std::string_view soql(reinterpret_cast<const char*>(data), size);
  SoqlRefs refs;
  try {
    refs = ParseSoqlRefs(soql);
  } catch (const SoqlError&) {
    return 0;
  }
  if (refs.object.empty() || refs.limit_begin > refs.limit_end ||
      refs.limit_end > soql.size()) {
    __builtin_trap();
  }
  for (const SoqlField& f : refs.fields) {
    if (f.path.empty()) __builtin_trap();
  }
  const std::string limited = WithLimit(soql, refs, 1);
  try {
    SoqlRefs again = ParseSoqlRefs(limited);
    if (!again.has_limit ||
        limited.substr(again.limit_begin,
                       again.limit_end - again.limit_begin) != "1" ||
        again.object != refs.object ||
        again.fields.size() != refs.fields.size()) {
      __builtin_trap();
    }
  } catch (const SoqlError&) {
    __builtin_trap();
  }
  return 0;
}
