// Holds the latest resource gauges of every configured query, rendered to the
// text exposition format, and deflated for gzip scrapes, once when they
// change, so that a scrape only writes bytes that already exist.
//
// Entries are named by opaque keys (a query name, or an org and a query
// name). Several entries may publish families of the same metric name, as
// when two orgs run the same query pack; the snapshot then carries that name's
// HELP and TYPE once, followed by the series of every entry that has it.
//
// The poller thread calls Publish() and Drop(); scrape threads call
// Snapshot(). A snapshot is immutable and shared: taking one copies a pointer
// under a mutex, never the payload.
#ifndef CLOUDAWARE_EXPORTER_COLLECTOR_H_
#define CLOUDAWARE_EXPORTER_COLLECTOR_H_

#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "exporter/base/gzip.h"
#include "exporter/pipeline/gauge_family.h"

namespace cloudaware_exporter {

class Collector {
 public:
  // The exposition of every entry with series, as chunks to write in order:
  // entries in key order, each metric name once, all its series together.
  struct Snapshot {
    std::vector<std::shared_ptr<const std::string>> blocks;
    // The same text as non-final deflate segments (see gzip.h); not one
    // segment per block, since a family's header and series are apart here.
    std::vector<std::shared_ptr<const DeflateSegment>> deflated;
    size_t series = 0;  // across all entries
  };

  // Fixes the order in which entries appear and forgets entries not named
  // (after a reload).
  void SetQueries(const std::vector<std::string>& keys);
  // Replaces the entry's series with these, atomically: series missing from
  // families vanish. Takes the families, since it frees each one's series
  // as soon as it is rendered, before the text is deflated. A family without
  // series renders nothing, not even its HELP and TYPE lines. A result that
  // renders to the same text as the current one changes nothing, so it costs no
  // compression. Returns the number of series published.
  size_t Publish(const std::string& key, std::vector<GaugeFamily> families);
  // Removes the entry's series (they went stale).
  void Drop(const std::string& key);
  size_t SeriesCount(const std::string& key) const;

  std::shared_ptr<const Snapshot> snapshot() const;

 private:
  // One rendered metric family with series.
  struct RenderedFamily {
    std::string name;
    std::shared_ptr<const std::string> text;  // HELP, TYPE and series
    size_t header_size = 0;                   // of the HELP and TYPE lines
    // The series alone, for when another entry's family of the same name
    // comes first; made only then, so that with one org no text is kept
    // twice.
    std::shared_ptr<const std::string> body;
    std::shared_ptr<const DeflateSegment> deflated_header;
    std::shared_ptr<const DeflateSegment> deflated_body;
  };
  struct Entry {
    std::vector<RenderedFamily> families;
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
