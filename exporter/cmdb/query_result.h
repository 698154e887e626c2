// What a query returns, apart from the client that fetched it: the samples
// mapping and the result store read it.
#ifndef CLOUDAWARE_EXPORTER_CMDB_QUERY_RESULT_H_
#define CLOUDAWARE_EXPORTER_CMDB_QUERY_RESULT_H_

#include <cstdint>
#include <nlohmann/json.hpp>
#include <vector>

namespace cloudaware_exporter {

// A query's result as the API returned it (all pages joined). When the
// records went to a RecordSink instead, records is empty.
struct QueryResult {
  int64_t total_size = 0;
  bool done = true;
  std::vector<nlohmann::json> records;
};

// Takes a query's records one at a time, in order, as each page is parsed,
// so that no page outlives its parse. A listing's records come without their
// attributes objects, as in QueryResult. Called on the thread that runs the
// query; the sink may keep the record (it is moved in) or drop it.
class RecordSink {
 public:
  virtual ~RecordSink() = default;
  virtual void Add(nlohmann::json&& record) = 0;
};

// A sink that keeps every record, in a QueryResult's order.
class CollectingSink : public RecordSink {
 public:
  explicit CollectingSink(std::vector<nlohmann::json>& records)
      : records_(records) {}
  void Add(nlohmann::json&& record) override {
    records_.push_back(std::move(record));
  }

 private:
  std::vector<nlohmann::json>& records_;
};

}  // namespace cloudaware_exporter

#endif  // CLOUDAWARE_EXPORTER_CMDB_QUERY_RESULT_H_
