#include "exporter/config/yaml_reader.h"

#include <yaml-cpp/eventhandler.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>

namespace cloudaware_exporter {
namespace {

// Records where the first non-empty node of a document starts.
class FirstContent : public YAML::EventHandler {
 public:
  std::optional<YAML::Mark> mark;

  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark& m, YAML::anchor_t) override { Note(m); }
  void OnScalar(const YAML::Mark& m, const std::string&, YAML::anchor_t,
                const std::string&) override {
    Note(m);
  }
  void OnSequenceStart(const YAML::Mark& m, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {
    Note(m);
  }
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark& m, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {
    Note(m);
  }
  void OnMapEnd() override {}

 private:
  void Note(const YAML::Mark& m) {
    if (!mark) mark = m;
  }
};

}  // namespace

std::string Quote(std::string_view s) {
  constexpr size_t kMax = 80;
  std::string out = "'";
  for (size_t i = 0; i < s.size() && i < kMax; ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7f) {
      char hex[8];
      std::snprintf(hex, sizeof(hex), "\\x%02x", c);
      out += hex;
    } else {
      out += static_cast<char>(c);
    }
  }
  if (s.size() > kMax) out += "...";
  return out + "'";
}

// Not YAML::LoadAll(): in yaml-cpp 0.7 it loops forever, allocating, on
// inputs such as "," (jbeder/yaml-cpp#1040, fixed upstream by #1319). A
// second document that is only null is how that bug shows up here, so it is
// ignored.
std::optional<YAML::Mark> SecondDocument(const std::string& yaml) {
  std::istringstream in(yaml);
  YAML::Parser parser(in);
  FirstContent first, second;
  if (!parser.HandleNextDocument(first)) return std::nullopt;
  if (!parser.HandleNextDocument(second)) return std::nullopt;
  return second.mark;
}

std::string KindName(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Scalar:
      return "a string";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a mapping";
    default:
      return "nothing";
  }
}

std::string Child(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}

std::optional<YamlReader::Item> YamlReader::Mapping::Get(
    std::string_view key) const {
  for (const auto& e : entries) {
    if (e.key == key && !e.value.node.IsNull()) return e.value;
  }
  return std::nullopt;
}

void YamlReader::Fail(const YAML::Mark& mark, const std::string& path,
                      const std::string& problem) const {
  std::string msg = file_;
  if (!mark.is_null()) {
    msg += ":" + std::to_string(mark.line + 1) + ":" +
           std::to_string(mark.column + 1);
  }
  msg += ": ";
  if (!path.empty()) msg += path + ": ";
  Throw(msg + problem);
  // Not reached; GCC does not trust [[noreturn]] on a virtual call.
  std::abort();
}

YamlReader::Mapping YamlReader::Map(
    const Item& item, std::initializer_list<std::string_view> known,
    const std::string& what,
    const std::function<void(const Item& key)>& check_key) const {
  if (!item.node.IsMap()) {
    Fail(item, "must be " + what + ", got " + KindName(item.node));
  }
  Mapping m{item, {}};
  for (const auto& pair : item.node) {
    const YAML::Node& key = pair.first;
    if (!key.IsScalar()) {
      Fail(key.Mark(), item.path,
           "keys must be plain strings, got " + KindName(key));
    }
    const std::string name = key.Scalar();
    const std::string path = Child(item.path, name);
    if (check_key) check_key(Item{key, path});
    if (known.size() > 0 &&
        std::find(known.begin(), known.end(), name) == known.end()) {
      std::string names;
      for (auto k : known) {
        names += (names.empty() ? "" : ", ") + std::string(k);
      }
      Fail(key.Mark(), path,
           "unknown key " + Quote(name) + " (known: " + names + ")");
    }
    for (const auto& e : m.entries) {
      if (e.key == name) Fail(key.Mark(), path, "duplicate key " + Quote(name));
    }
    m.entries.push_back({name, key, Item{pair.second, path}});
  }
  return m;
}

std::vector<YamlReader::Item> YamlReader::List(const Item& item,
                                               const std::string& what) const {
  if (!item.node.IsSequence()) {
    Fail(item, "must be " + what + ", got " + KindName(item.node));
  }
  std::vector<Item> out;
  for (size_t i = 0; i < item.node.size(); ++i) {
    out.push_back({item.node[i], item.path + "[" + std::to_string(i) + "]"});
  }
  return out;
}

YAML::Node YamlReader::LoadDocument(const std::string& yaml) const {
  YAML::Node root;
  std::optional<YAML::Mark> second;
  try {
    root = YAML::Load(yaml);
    second = SecondDocument(yaml);
  } catch (const YAML::Exception& e) {
    Fail(e.mark, "", "YAML syntax error: " + e.msg);
  }
  if (second) Fail(*second, "", "must hold a single YAML document");
  return root;
}

YamlReader::Item YamlReader::Required(const Mapping& m,
                                      std::string_view key) const {
  if (auto v = m.Get(key)) return *v;
  Fail(m.item.node.Mark(), Child(m.item.path, key), "is required");
}

std::string YamlReader::String(const Item& item) const {
  if (!item.node.IsScalar()) {
    Fail(item, "must be a string, got " + KindName(item.node));
  }
  return item.node.Scalar();
}

bool YamlReader::Bool(const Item& item) const {
  const std::string s = String(item);
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  Fail(item, "must be true or false, got " + Quote(s));
}

}  // namespace cloudaware_exporter
