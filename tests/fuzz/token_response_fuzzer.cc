// Fuzzes the reader of the OAuth token endpoint's answer. TokenFailure is
// the expected answer to a bad one; a token that is returned must be usable.
#include <cstdint>
#include <string>

#include "exporter/cmdb/token_source.h"
#include "tests/fuzz/fuzz_input.h"

namespace cloudaware_exporter {
namespace {

bool Usable(const TokenSource::Token& token) {
  const Url& url = token.instance;
  return !token.access_token.empty() && !url.host.empty() &&
         (url.scheme == "https" || url.scheme == "http") && url.port >= 1 &&
         url.port <= 65535;
}

}  // namespace
}  // namespace cloudaware_exporter

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cloudaware_exporter;
  StatusAndBody in = SplitStatus(data, size);
  try {
    TokenSource::Token token = ParseTokenResponse(
        in.status, in.body, "https://acme.my.salesforce.com");
    if (in.status != 200 || !Usable(token)) __builtin_trap();
  } catch (const TokenFailure& failure) {
    if (failure.result.empty() || failure.message.empty()) __builtin_trap();
  }
  return 0;
}
