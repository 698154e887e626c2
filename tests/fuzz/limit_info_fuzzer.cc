// Fuzzes the Sforce-Limit-Info header parser, whose figures become the
// cloudaware_api_daily_requests_* gauges.
#include <cstdint>
#include <string_view>

#include "exporter/cmdb/cmdb_client.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view header(reinterpret_cast<const char*>(data), size);
  auto usage = cloudaware_exporter::ParseLimitInfo(header);
  if (usage && (usage->first < 0 || usage->second <= 0)) __builtin_trap();
  return 0;
}
