// Files the exporter reads, and re-reads when they change: the config, the
// client secret, certificates.
#ifndef CLOUDAWARE_EXPORTER_FILE_UTIL_H_
#define CLOUDAWARE_EXPORTER_FILE_UTIL_H_

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace cloudaware_exporter {

// Reads at most `limit` bytes. Returns the problem (strerror text), or
// nullopt on success.
std::optional<std::string> ReadFile(const std::string& path, size_t limit,
                                    std::string* content);

// What tells that a file changed: device and inode (a rotation by rename, as
// Kubernetes does with secrets), size and modification time.
struct FileStamp {
  bool exists = false;
  dev_t device = 0;
  ino_t inode = 0;
  off_t size = 0;
  int64_t mtime_sec = 0;
  int64_t mtime_nsec = 0;

  bool operator==(const FileStamp&) const = default;

  // exists is false when the file cannot be stat()ed.
  static FileStamp Of(const std::string& path);
};

}  // namespace cloudaware_exporter

#endif  // CLOUDAWARE_EXPORTER_FILE_UTIL_H_
