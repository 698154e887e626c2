// Fuzzes the readers of REST API answers: the error of a failed call, a page
// of a query result, and a /composite answer. CmdbError is the expected
// answer to a bad page.
#include <cstdint>
#include <string>
#include <vector>

#include "exporter/cmdb/cmdb_client.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cloudaware_exporter;
  StatusAndBody in = SplitStatus(data, size);

  CmdbError error = ParseRestError(in.status, in.body);
  if (error.code().empty() || error.status() != in.status) __builtin_trap();

  try {
    QueryPage page = ParseQueryPage(in.body);
    if (!page.records.is_array()) __builtin_trap();
    // The client follows nextRecordsUrl with the same token and host: it
    // must be a path there, and only a non-aggregate page that is not done
    // has one.
    if (!page.done && (page.aggregate ||
                       page.next_records_url.rfind("/services/data/", 0) != 0))
      __builtin_trap();
  } catch (const CmdbError& e) {
    if (e.code() != "parse" && e.code() != "truncated") __builtin_trap();
  }

  try {
    const size_t n = 1 + in.status % kCompositeMaxQueries;
    std::vector<CompositeAnswer> answers = ParseCompositeResponse(in.body, n);
    if (answers.size() != n) __builtin_trap();
    // Each query gets exactly one of a page and an error.
    for (const auto& a : answers) {
      if (a.page.has_value() == a.error.has_value()) __builtin_trap();
    }
  } catch (const CmdbError& e) {
    if (e.code() != "parse") __builtin_trap();
  }
  return 0;
}
