#include "exporter/pipeline/result_store.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <tuple>
#include <utility>

#include "exporter/base/file_util.h"
#include "exporter/base/log.h"

namespace cloudaware_exporter {
namespace {

using json = nlohmann::json;

constexpr int kFormatVersion = 1;
// Far above any result the API can return in one interval; a bound so that
// a stray huge file cannot exhaust memory at start.
constexpr size_t kMaxFileSize = size_t{1} << 30;
// Files being written start with this; they are never read, and removed at
// start if a crash left them.
constexpr char kTempPrefix[] = ".tmp-";

std::string Errno(const std::string& what) {
  return what + ": " + std::strerror(errno);
}

bool WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// A rename is durable only once the directory entry is on disk.
std::optional<std::string> SyncDir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Errno("open " + dir);
  std::optional<std::string> problem;
  if (::fsync(fd) != 0) problem = Errno("fsync " + dir);
  ::close(fd);
  return problem;
}

// Opens a new temporary file in dir; returns the descriptor, or -1 with
// errno set.
int MakeTemp(const std::string& dir, std::string* path) {
  std::string name = dir + "/" + kTempPrefix + "XXXXXX";
  int fd = ::mkostemp(name.data(), O_CLOEXEC);
  *path = std::move(name);
  return fd;
}

// The text of a stored result, written piecewise: a large result's records
// are not copied into one JSON document first.
std::optional<std::string> WriteResult(int fd, const std::string& key,
                                       const std::string& soql,
                                       const QueryResult& result,
                                       int64_t time_ms) {
  // Records come from parsed API answers, so they are valid UTF-8; replace
  // rather than throw should one ever not be.
  auto dump = [](const json& j) {
    return j.dump(-1, ' ', false, json::error_handler_t::replace);
  };
  std::string out = "{\"version\":" + std::to_string(kFormatVersion) +
                    ",\"key\":" + dump(key) + ",\"soql\":" + dump(soql) +
                    ",\"time_ms\":" + std::to_string(time_ms) +
                    ",\"totalSize\":" + std::to_string(result.total_size) +
                    ",\"done\":" + (result.done ? "true" : "false") +
                    ",\"records\":[";
  for (size_t i = 0; i < result.records.size(); ++i) {
    if (i > 0) out += ",";
    out += "\n";
    out += dump(result.records[i]);
    if (out.size() >= (size_t{1} << 16)) {
      if (!WriteAll(fd, out)) return Errno("write");
      out.clear();
    }
  }
  out += "]}\n";
  if (!WriteAll(fd, out)) return Errno("write");
  return std::nullopt;
}

// The stored result in doc, or the problem with it.
std::optional<std::string> Read(json& doc, std::string* soql,
                                ResultStore::Stored* stored) {
  if (!doc.is_object()) return "not a JSON object";
  auto field = [&](const char* name, bool (json::*is)() const noexcept,
                   const char* type) -> std::optional<std::string> {
    auto it = doc.find(name);
    if (it == doc.end()) return std::string("no field ") + name;
    if (!((*it).*is)()) return std::string("field ") + name + " is not " + type;
    return std::nullopt;
  };
  if (auto p = field("version", &json::is_number_integer, "an integer"))
    return p;
  if (doc["version"] != kFormatVersion) {
    return "format version " + doc["version"].dump() + ", want " +
           std::to_string(kFormatVersion);
  }
  for (auto [name, is, type] :
       {std::tuple{"soql", &json::is_string, "a string"},
        std::tuple{"time_ms", &json::is_number_integer, "an integer"},
        std::tuple{"totalSize", &json::is_number_integer, "an integer"},
        std::tuple{"done", &json::is_boolean, "a boolean"},
        std::tuple{"records", &json::is_array, "an array"}}) {
    if (auto p = field(name, is, type)) return p;
  }
  *soql = doc["soql"].get<std::string>();
  // A time in the future means the clock was set back since: take it as now.
  // Clamped as a count of ms, which cannot overflow, unlike a time_point in
  // ns.
  const int64_t now_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(
          std::chrono::system_clock::now().time_since_epoch())
          .count();
  stored->time = ResultStore::WallTime(std::chrono::milliseconds(
      std::clamp<int64_t>(doc["time_ms"].get<int64_t>(), 0, now_ms)));
  stored->result.total_size = doc["totalSize"].get<int64_t>();
  stored->result.done = doc["done"].get<bool>();
  json& records = doc["records"];
  stored->result.records.reserve(records.size());
  for (json& r : records) stored->result.records.push_back(std::move(r));
  return std::nullopt;
}

}  // namespace

ResultStore::ResultStore(std::string dir) : dir_(std::move(dir)) {
  namespace fs = std::filesystem;
  auto fail = [this](const std::string& problem) {
    throw std::runtime_error("storage path " + dir_ + ": " + problem);
  };
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) fail("cannot create the directory: " + ec.message());
  if (!fs::is_directory(dir_, ec)) fail("not a directory");
  std::string probe;
  int fd = MakeTemp(dir_, &probe);
  if (fd < 0) fail(Errno("cannot write in it"));
  ::close(fd);
  ::unlink(probe.c_str());
  for (const auto& entry : fs::directory_iterator(dir_, ec)) {
    if (entry.path().filename().string().rfind(kTempPrefix, 0) == 0)
      fs::remove(entry.path(), ec);
  }
}

std::string ResultStore::PathOf(const std::string& key) const {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string name;
  for (char c : key) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
        (c >= '0' && c <= '9') || c == '_' || c == '-') {
      name += c;
    } else {
      auto byte = static_cast<unsigned char>(c);
      name += '%';
      name += kHex[byte >> 4];
      name += kHex[byte & 0xF];
    }
  }
  return dir_ + "/" + name + ".json";
}

std::optional<std::string> ResultStore::Save(const std::string& key,
                                             const std::string& soql,
                                             const QueryResult& result,
                                             WallTime time) {
  const std::string path = PathOf(key);
  std::string temp;
  int fd = MakeTemp(dir_, &temp);
  if (fd < 0) return Errno("create a temporary file in " + dir_);
  const int64_t time_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                              time.time_since_epoch())
                              .count();
  std::optional<std::string> problem =
      WriteResult(fd, key, soql, result, time_ms);
  if (!problem && ::fsync(fd) != 0) problem = Errno("fsync");
  if (::close(fd) != 0 && !problem) problem = Errno("close");
  if (!problem && ::rename(temp.c_str(), path.c_str()) != 0)
    problem = Errno("rename to " + path);
  if (problem) {
    ::unlink(temp.c_str());
    return problem;
  }
  return SyncDir(dir_);
}

std::optional<ResultStore::Stored> ResultStore::Load(
    const std::string& key, const std::string& soql) const {
  const std::string path = PathOf(key);
  if (!FileStamp::Of(path).exists) return std::nullopt;
  auto ignore = [&](const std::string& problem) {
    LogWarn("ignoring a stored result that cannot be read",
            {{"query", key}, {"file", path}, {"err", problem}});
    return std::nullopt;
  };
  std::string content;
  if (auto problem = ReadFile(path, kMaxFileSize, &content))
    return ignore(*problem);
  json doc;
  try {
    doc = json::parse(content);
  } catch (const json::exception& e) {
    return ignore(e.what());
  }
  content = {};
  Stored stored;
  std::string stored_soql;
  if (auto problem = Read(doc, &stored_soql, &stored)) return ignore(*problem);
  if (stored_soql != soql) {
    LogInfo("ignoring the stored result of a changed query",
            {{"query", key}, {"file", path}});
    return std::nullopt;
  }
  return stored;
}

}  // namespace cloudaware_exporter
