// Reads one page of a query response with a SAX parse: each element of its
// top-level "records" array is built on its own and handed to a RecordSink
// as soon as it is complete, so that a page of 2,000 records never exists as
// one JSON document. Everything else in the page (totalSize, done,
// nextRecordsUrl, or whatever a broken answer holds instead) is kept, for
// ParseQueryPage's checks. Called from CmdbClient's query threads; holds no
// state between calls.
#ifndef CLOUDAWARE_EXPORTER_CMDB_PAGE_STREAM_H_
#define CLOUDAWARE_EXPORTER_CMDB_PAGE_STREAM_H_

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>

#include "exporter/cmdb/query_result.h"

namespace cloudaware_exporter {

struct StreamedPage {
  // False when the body is not valid JSON; the records read before the
  // error went to the sink all the same.
  bool valid = false;
  // The page as nlohmann::json::parse reads it, but with an empty array in
  // place of a top-level records array.
  nlohmann::json doc;
  size_t rows = 0;         // records handed to the sink
  bool aggregate = false;  // the first record is an AggregateResult row
};

// Parses body, sending the records to sink: a listing's records without
// their attributes objects, an aggregate result's as they are. Throws
// CmdbError "parse" when the body has two top-level records arrays, which
// the sink cannot take back.
StreamedPage StreamQueryPage(const std::string& body, RecordSink& sink);

// Whether a record is an aggregate result's row (attributes.type is
// AggregateResult).
bool IsAggregateRecord(const nlohmann::json& record);

// Removes the record's attributes object and those of its relationship
// objects: nothing reads them.
void DropAttributes(nlohmann::json& record);

}  // namespace cloudaware_exporter

#endif  // CLOUDAWARE_EXPORTER_CMDB_PAGE_STREAM_H_
