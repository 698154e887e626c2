// What a SOQL query names: its object, the fields of every clause, and the
// columns its result will have. Just enough SOQL for --config.check.online
// to check a query against the describe resource before it runs; the API
// stays the judge of everything else. A pure function, no I/O.
#ifndef CLOUDAWARE_EXPORTER_SOQL_REFS_H_
#define CLOUDAWARE_EXPORTER_SOQL_REFS_H_

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace cloudaware_exporter {

// A field as the query spells it: Name, or a relationship path such as
// CA10__account__r.CA10__accountId__c.
struct SoqlField {
  std::string path;
  // Named bare in GROUP BY (or in its ROLLUP/CUBE), so it must be groupable.
  // Fields inside functions (GROUP BY CALENDAR_YEAR(CreatedDate)) are not.
  bool grouped = false;
};

// A column of the result, by the names a metric's value: or labels: may
// give it (matched ignoring ASCII case, as samples.h does): the alias; or,
// without one, the field's path and its last name, or exprN for an
// aggregate function.
struct SoqlColumn {
  std::vector<std::string> names;
};

struct SoqlRefs {
  std::string object;
  // Each field once (compared ignoring case), in order of first mention,
  // from SELECT, WHERE, GROUP BY, HAVING and ORDER BY. Aliases, literals and
  // date literals are not fields; COUNT() names none.
  std::vector<SoqlField> fields;
  std::vector<SoqlColumn> columns;
  // GROUP BY or an aggregate function: the rows are AggregateResults.
  bool aggregate = false;
  // SELECT COUNT(): no rows, the count is totalSize.
  bool count_only = false;
  // Semi-join subqueries of WHERE (Id IN (SELECT ... FROM Other)), each
  // naming fields of its own object.
  std::vector<SoqlRefs> subqueries;
  // Byte range of the number after the top-level LIMIT; without a LIMIT,
  // an empty range where one may be inserted.
  size_t limit_begin = 0;
  size_t limit_end = 0;
  bool has_limit = false;
};

// Why a query could not be read: "at character 27 (near 'GROUP'): expected
// FROM". The position counts from 1.
class SoqlError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Throws SoqlError for what it cannot read, including valid SOQL it does
// not cover: TYPEOF and child-relationship subqueries in SELECT.
SoqlRefs ParseSoqlRefs(std::string_view soql);

// Whether the result has a column that a metric's value: or labels: may
// name `column` (a path, in an aggregate result, also by its last name).
bool HasColumn(const SoqlRefs& refs, std::string_view column);
// "it has state, n", or "it has none": for messages about a missing column.
std::string ColumnList(const SoqlRefs& refs);

// soql with its top-level LIMIT set to limit, or given one; refs is
// ParseSoqlRefs(soql).
std::string WithLimit(std::string_view soql, const SoqlRefs& refs,
                      int64_t limit);

}  // namespace cloudaware_exporter

#endif  // CLOUDAWARE_EXPORTER_SOQL_REFS_H_
