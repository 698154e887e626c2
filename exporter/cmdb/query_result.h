// What a query returns, apart from the client that fetched it: the samples
// mapping and the result store read it.
#ifndef CLOUDAWARE_EXPORTER_CMDB_QUERY_RESULT_H_
#define CLOUDAWARE_EXPORTER_CMDB_QUERY_RESULT_H_

#include <cstdint>
#include <nlohmann/json.hpp>
#include <vector>

namespace cloudaware_exporter {

// A query's result as the API returned it (all pages joined).
struct QueryResult {
  int64_t total_size = 0;
  bool done = true;
  std::vector<nlohmann::json> records;
};

}  // namespace cloudaware_exporter

#endif  // CLOUDAWARE_EXPORTER_CMDB_QUERY_RESULT_H_
