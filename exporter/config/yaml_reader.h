// What the two YAML file parsers share, the config's (config.cc) and the
// web config's (web_config.cc): YamlReader, the checks that turn a YAML node
// into a value or into a single line "<file>:<line>:<column>: <path>:
// <problem>".
#ifndef CLOUDAWARE_EXPORTER_YAML_READER_H_
#define CLOUDAWARE_EXPORTER_YAML_READER_H_

#include <yaml-cpp/yaml.h>

#include <cstddef>
#include <functional>
#include <initializer_list>
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

  virtual ~YamlReader() = default;

 protected:
  explicit YamlReader(std::string file) : file_(std::move(file)) {}

  // The file name as the caller gave it, the first part of every message.
  const std::string& file() const { return file_; }
  // For a parser that follows references into other files (the config's
  // query_files): messages then name the file being read.
  void set_file(std::string file) { file_ = std::move(file); }

  // Without the position when `mark` is null, without the path when `path`
  // is empty.
  [[noreturn]] void Fail(const YAML::Mark& mark, const std::string& path,
                         const std::string& problem) const;
  [[noreturn]] void Fail(const Item& item, const std::string& problem) const {
    Fail(item.node.Mark(), item.path, problem);
  }

  // Parses text that must hold one YAML document; Fail()s on a syntax
  // error or a second document.
  YAML::Node LoadDocument(const std::string& yaml) const;

  // `what` is what the node must be, for the message. `known` empty: any
  // key is allowed. `check_key`, if set, sees each key first, in document
  // order, and may Fail() on it.
  Mapping Map(
      const Item& item, std::initializer_list<std::string_view> known,
      const std::string& what = "a mapping",
      const std::function<void(const Item& key)>& check_key = nullptr) const;
  std::vector<Item> List(const Item& item,
                         const std::string& what = "a list") const;
  Item Required(const Mapping& m, std::string_view key) const;
  // The scalar's text. Bool() reads through it, so that a parser that
  // rewrites scalars (the config expands ${VAR}) does so everywhere.
  virtual std::string String(const Item& item) const;
  bool Bool(const Item& item) const;

 private:
  // Throws the parser's own error type with `message`.
  [[noreturn]] virtual void Throw(std::string message) const = 0;

  std::string file_;
};

}  // namespace cloudaware_exporter

#endif  // CLOUDAWARE_EXPORTER_YAML_READER_H_
