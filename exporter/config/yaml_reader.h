// What the two YAML file parsers share, the config's (config.cc) and the
// web config's (web_config.cc): YamlReader, the checks that turn a YAML node
// into a value or into a single line "<file>:<line>:<column>: <path>:
// <problem>".
#ifndef CLOUDAWARE_EXPORTER_YAML_READER_H_
#define CLOUDAWARE_EXPORTER_YAML_READER_H_

#include <yaml-cpp/yaml.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cloudaware_exporter {

// A value echoed in a message: quoted, on one line, and short, since the
// input may be arbitrary bytes.
std::string Quote(std::string_view s);

// Where a second YAML document with content starts, if there is one; a
// file must hold a single document.
std::optional<YAML::Mark> SecondDocument(const std::string& yaml);

// "a string", "a list", "a mapping" or "nothing", for "must be X, got Y".
std::string KindName(const YAML::Node& node);

// The path of `key` below `path` ("cloudaware.url"); just `key` at the top.
std::string Child(const std::string& path, std::string_view key);

// One or more ASCII digits, nothing else.
bool IsDigits(std::string_view s);

// The base of a file's parser. The parser adds its own fields and rules and
// decides, in Throw(), which exception a finished message becomes. One
// parser reads one file on the thread that loads it.
class YamlReader {
 public:
  // A node and its path in the document, for messages.
  struct Item {
    YAML::Node node;
    std::string path;
  };

  // A mapping whose keys have been checked.
  struct Mapping {
    struct Entry {
      std::string key;
      YAML::Node key_node;
      Item value;
    };
    Item item;
    std::vector<Entry> entries;

    // Absent and null (`key:` with nothing after it) are the same.
    std::optional<Item> Get(std::string_view key) const;
  };

  // How OneOf() lists the choices: "must be a or b" in the config, "must
  // be one of a, b, c" in the web config, whose users know exporter-toolkit.
  enum class Choices { kOr, kOneOf };

  virtual ~YamlReader() = default;

  // Without the position when `mark` is null, without the path when `path`
  // is empty.
  [[noreturn]] void Fail(const YAML::Mark& mark, const std::string& path,
                         const std::string& problem) const;
  [[noreturn]] void Fail(const Item& item, const std::string& problem) const {
    Fail(item.node.Mark(), item.path, problem);
  }

  // `what` is what the node must be, for the message. `known` empty: any
  // key is allowed. `check_key`, if set, sees each key first, in document
  // order, and may Fail() on it.
  Mapping Map(
      const Item& item, const std::vector<std::string_view>& known,
      const std::string& what = "a mapping",
      const std::function<void(const Item& key)>& check_key = nullptr) const;
  std::vector<Item> List(const Item& item,
                         const std::string& what = "a list") const;
  Item Required(const Mapping& m, std::string_view key) const;

  // The typed reads of one scalar, shared by both files' settings. Each
  // reads through String(), so that a parser that rewrites scalars (the
  // config expands ${VAR}) does so everywhere, and Fail()s with "must be
  // ..., got '<text>'".
  virtual std::string String(const Item& item) const;
  std::string NonEmpty(const Item& item) const;
  bool Bool(const Item& item) const;
  int64_t Integer(const Item& item, int64_t min, int64_t max) const;
  // A byte count: an integer, or one with a KiB, MiB or GiB suffix.
  int64_t Bytes(const Item& item, int64_t min, int64_t max) const;
  // A share from 0 up to (not including) 1: a percentage such as 10% or
  // 2.5%, or a fraction such as 0.1.
  double Share(const Item& item) const;
  std::chrono::milliseconds Duration(const Item& item,
                                     std::chrono::milliseconds min) const;
  // The index of the choice the scalar names.
  size_t OneOf(const Item& item, const std::vector<std::string_view>& choices,
               Choices wording = Choices::kOr) const;
  // http(s)://host[:port]; a trailing slash is dropped. `host`, if set,
  // receives the host in lower case.
  std::string Url(const Item& item, bool port_required,
                  std::string* host = nullptr) const;
  // A path from the file, resolved against the file's directory.
  std::string ResolvePath(const std::string& path) const;

 protected:
  explicit YamlReader(std::string file) : file_(std::move(file)) {}

  // The file name as the caller gave it, the first part of every message.
  const std::string& file() const { return file_; }
  // For a parser that follows references into other files (the config's
  // query_files): messages then name the file being read.
  void set_file(std::string file) { file_ = std::move(file); }

  // Parses text that must hold one YAML document; Fail()s on a syntax
  // error or a second document.
  YAML::Node LoadDocument(const std::string& yaml) const;

 private:
  // Throws the parser's own error type with `message`.
  [[noreturn]] virtual void Throw(std::string message) const = 0;

  std::string file_;
};

}  // namespace cloudaware_exporter

#endif  // CLOUDAWARE_EXPORTER_YAML_READER_H_
