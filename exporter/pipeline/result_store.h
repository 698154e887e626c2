// Keeps the last good result of every query in a directory
// (--storage.path), so that a restart serves data at once and does not
// re-run queries whose interval has not elapsed.
//
// One JSON file per key: the format version, the key, the SOQL, the time of
// the result (Unix ms), totalSize, done and the records. A file is replaced
// atomically (temporary file, fsync, rename, fsync of the directory), so a
// crash leaves the old result or the new one, never half of one.
//
// The poller's workers call Save() for different keys at the same time; the
// poller calls Load() while it is built. Both are thread-safe: they share
// nothing but the directory name.
#ifndef CLOUDAWARE_EXPORTER_RESULT_STORE_H_
#define CLOUDAWARE_EXPORTER_RESULT_STORE_H_

#include <chrono>
#include <optional>
#include <string>

#include "exporter/cmdb/query_result.h"

namespace cloudaware_exporter {

class ResultStore {
 public:
  using WallTime = std::chrono::system_clock::time_point;

  struct Stored {
    QueryResult result;
    WallTime time;
  };

  // Creates dir if missing and checks that files can be written in it;
  // removes temporary files a crash left behind. Throws std::runtime_error
  // naming the directory and the problem.
  explicit ResultStore(std::string dir);

  // Replaces the stored result of key. Returns the problem, or nullopt on
  // success.
  std::optional<std::string> Save(const std::string& key,
                                  const std::string& soql,
                                  const QueryResult& result, WallTime time);
  // The stored result of key, or nullopt when there is none, when it was
  // stored for another SOQL (logged at info: the query changed) or when the
  // file cannot be read (logged as a warning naming the file). A time in the
  // future (the clock was set back) is returned as now.
  std::optional<Stored> Load(const std::string& key,
                             const std::string& soql) const;

  // The file that holds key's result: key with every byte outside
  // [A-Za-z0-9_-] written as %XX, so that distinct keys ("org/query" too)
  // get distinct names that stay inside dir.
  std::string PathOf(const std::string& key) const;
  const std::string& dir() const { return dir_; }

 private:
  const std::string dir_;
};

}  // namespace cloudaware_exporter

#endif  // CLOUDAWARE_EXPORTER_RESULT_STORE_H_
