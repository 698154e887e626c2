// Holds the latest resource gauges of every configured query, rendered to the
// text exposition format, and deflated for gzip scrapes, once when they
// change, so that a scrape only writes bytes that already exist.
//
// The poller thread calls Publish() and Drop(); scrape threads call
// Snapshot(). A snapshot is immutable and shared: taking one copies a pointer
// under a mutex, never the payload.
#ifndef CLOUDAWARE_EXPORTER_COLLECTOR_H_
#define CLOUDAWARE_EXPORTER_COLLECTOR_H_

#include <prometheus/metric_family.h>

#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "exporter/gzip.h"

namespace cloudaware_exporter {

class Collector {
 public:
  // The rendered text of every query with series, in query order.
  struct Snapshot {
    std::vector<std::shared_ptr<const std::string>> blocks;
    // The same blocks as non-final deflate segments (see gzip.h).
    std::vector<std::shared_ptr<const DeflateSegment>> deflated;
    size_t series = 0;  // across all blocks
  };

  // Fixes the order in which queries appear and forgets queries not named
  // (after a reload).
  void SetQueries(const std::vector<std::string>& names);
  // Replaces the query's series with these, atomically: series missing from
  // families vanish. A family without series renders nothing, not even its
  // HELP and TYPE lines. A result that renders to the same text as the
  // current one changes nothing, so it costs no compression. Returns the
  // number of series published.
  size_t Publish(const std::string& query,
                 const std::vector<prometheus::MetricFamily>& families);
  // Removes the query's series (they went stale).
  void Drop(const std::string& query);
  size_t SeriesCount(const std::string& query) const;

  std::shared_ptr<const Snapshot> snapshot() const;

 private:
  struct Entry {
    std::shared_ptr<const std::string> text;
    std::shared_ptr<const DeflateSegment> deflated;
    size_t series = 0;
  };
  void RebuildLocked();

  mutable std::mutex mu_;
  std::vector<std::string> order_;
  std::map<std::string, Entry> entries_;
  std::shared_ptr<const Snapshot> snapshot_ = std::make_shared<Snapshot>();
};

// A scrape's answer as chunks to write in order: the snapshot's blocks, then
// tail (the self metrics, rendered per scrape). With gzip the chunks are one
// gzip member, and only the tail is compressed now.
std::vector<std::shared_ptr<const std::string>> Exposition(
    const Collector::Snapshot& snapshot, std::string tail, bool gzip);

}  // namespace cloudaware_exporter

#endif  // CLOUDAWARE_EXPORTER_COLLECTOR_H_
