// A SOQL subset evaluated over the simulated inventory, answering with the
// JSON the Salesforce REST query resource returns (GET
// /services/data/vXX.X/query).
//
// Supported: SELECT of fields, relationship paths (a__r.b) and aliases;
// COUNT(), COUNT(Id), COUNT(f), COUNT_DISTINCT(f), SUM, MIN, MAX, AVG;
// WHERE with = != <> < <= > >= IN, NOT IN, LIKE, = null, != null, AND, OR,
// NOT and parentheses; GROUP BY fields and relationship paths; ORDER BY;
// LIMIT. Keywords, object and field names are case-insensitive, as in SOQL.
//
// Thread-safe: RunQuery only reads the inventory.
#ifndef CMDB_SIMULATOR_SOQL_H_
#define CMDB_SIMULATOR_SOQL_H_

#include <cstddef>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <variant>

#include "simulator/inventory.h"

namespace cmdb_simulator {

// A query the API rejects: HTTP 400 with
// [{"message": message, "errorCode": error_code}].
struct QueryError {
  std::string error_code;  // MALFORMED_QUERY, INVALID_FIELD, INVALID_TYPE
  std::string message;     // shaped like Salesforce's, caret line included
};

struct QueryOptions {
  // Used in record attribute URLs: /services/data/v<api_version>/sobjects/...
  std::string api_version = "66.0";
};

// A successful query. Rows are rendered on demand, so holding the result of
// a query over a million records (a paging cursor) costs only row numbers.
struct QueryResult {
  // True with GROUP BY or any aggregate function: rows are AggregateResult.
  // False for SELECT COUNT(), which has no rows (see count_only).
  bool aggregate = false;
  // SELECT COUNT(): the count is total_size and there are no rows.
  bool count_only = false;
  // What the API reports as totalSize: the number of rows, or the count for
  // SELECT COUNT(). LIMIT applies to both.
  size_t total_size = 0;
  // Rows available through record(); 0 for SELECT COUNT().
  size_t row_count = 0;
  // Row i (0 <= i < row_count) as the REST API returns it, "attributes"
  // first, then the selected columns in SELECT order. Keeps the inventory
  // alive.
  std::function<nlohmann::ordered_json(size_t)> record;
};

std::variant<QueryResult, QueryError> RunQuery(
    std::shared_ptr<const Inventory> inventory, std::string_view soql,
    const QueryOptions& options = {});

}  // namespace cmdb_simulator

#endif  // CMDB_SIMULATOR_SOQL_H_
