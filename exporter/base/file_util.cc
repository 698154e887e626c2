#include "exporter/base/file_util.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace cloudaware_exporter {

std::optional<std::string> ReadFile(const std::string& path, size_t limit,
                                    std::string* content) {
  errno = 0;
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return std::strerror(errno);
  content->clear();
  char buf[8192];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) {
    content->append(buf, n);
    if (content->size() > limit) {
      std::fclose(f);
      return "larger than " + std::to_string(limit) + " bytes";
    }
  }
  // Reading a directory fails here (EISDIR), not in fopen.
  const int error = std::ferror(f) ? errno : 0;
  std::fclose(f);
  if (error != 0) return std::strerror(error);
  return std::nullopt;
}

FileStamp FileStamp::Of(const std::string& path) {
  FileStamp s;
  struct stat st;
  if (path.empty() || ::stat(path.c_str(), &st) != 0) return s;
  s.exists = true;
  s.device = st.st_dev;
  s.inode = st.st_ino;
  s.size = st.st_size;
  s.mtime_sec = st.st_mtim.tv_sec;
  s.mtime_nsec = st.st_mtim.tv_nsec;
  return s;
}

}  // namespace cloudaware_exporter
