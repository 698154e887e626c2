#include "exporter/config/yaml_reader.h"

#include <yaml-cpp/eventhandler.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <sstream>

#include "exporter/base/duration.h"

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

// A name or an IPv4 address, or an IPv6 address in brackets.
bool IsHost(std::string_view host) {
  bool bracketed = host.size() > 2 && host.front() == '[' && host.back() == ']';
  if (bracketed) host = host.substr(1, host.size() - 2);
  return !host.empty() &&
         std::all_of(host.begin(), host.end(), [bracketed](char c) {
           return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                  (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
                  (bracketed && c == ':');
         });
}

bool IsPort(std::string_view port) {
  return IsDigits(port) && port.size() <= 5 &&
         std::stoi(std::string(port)) >= 1 &&
         std::stoi(std::string(port)) <= 65535;
}

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

bool IsDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(),
                                   [](char c) { return c >= '0' && c <= '9'; });
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
    const Item& item, const std::vector<std::string_view>& known,
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

std::string YamlReader::NonEmpty(const Item& item) const {
  if (item.node.IsNull()) Fail(item, "must not be empty");
  std::string s = String(item);
  if (s.empty()) Fail(item, "must not be empty");
  return s;
}

int64_t YamlReader::Integer(const Item& item, int64_t min, int64_t max) const {
  std::string s = String(item);
  int64_t n = IsDigits(s) && s.size() <= 12 ? std::stoll(s) : -1;
  if (n < min || n > max) {
    Fail(item, "must be an integer from " + std::to_string(min) + " to " +
                   std::to_string(max) + ", got " + Quote(s));
  }
  return n;
}

int64_t YamlReader::Bytes(const Item& item, int64_t min, int64_t max) const {
  std::string s = String(item);
  int64_t unit = 1;
  std::string_view digits = s;
  for (auto [suffix, size] :
       {std::pair{"KiB", int64_t{1} << 10}, std::pair{"MiB", int64_t{1} << 20},
        std::pair{"GiB", int64_t{1} << 30}}) {
    if (digits.ends_with(suffix)) {
      digits.remove_suffix(3);
      unit = size;
      break;
    }
  }
  int64_t n = -1;
  if (IsDigits(digits) && digits.size() <= 12) {
    // Compared before multiplying: twelve digits of GiB overflow int64_t.
    int64_t count = std::stoll(std::string(digits));
    if (count <= max / unit) n = count * unit;
  }
  if (n < min || n > max) {
    Fail(item, "must be a size from " + std::to_string(min) + " to " +
                   std::to_string(max) +
                   " bytes (a number, or one ending in KiB, MiB or GiB), "
                   "got " +
                   Quote(s));
  }
  return n;
}

double YamlReader::Share(const Item& item) const {
  std::string s = String(item);
  std::string_view number = s;
  const bool percent = number.ends_with('%');
  if (percent) number.remove_suffix(1);
  double x = -1;
  // Digits and at most one dot: no signs, exponents, inf or nan.
  if (!number.empty() && number.size() <= 12 &&
      number.find_first_not_of("0123456789.") == std::string_view::npos &&
      number.find('.') == number.rfind('.') && number.front() != '.' &&
      number.back() != '.') {
    std::from_chars(number.data(), number.data() + number.size(), x);
    if (percent) x /= 100;
  }
  if (!(x >= 0 && x < 1)) {
    Fail(item,
         "must be a share below 100%, such as 10% or 0.1, got " + Quote(s));
  }
  return x;
}

std::chrono::milliseconds YamlReader::Duration(
    const Item& item, std::chrono::milliseconds min) const {
  std::string s = String(item);
  std::optional<std::chrono::milliseconds> d = ParseDuration(s);
  if (!d) {
    Fail(item, "must be a duration such as 30s, 5m or 1h, got " + Quote(s));
  }
  if (*d < min) {
    Fail(item, "must be at least " + FormatDuration(min) + ", got " + Quote(s));
  }
  return *d;
}

size_t YamlReader::OneOf(const Item& item,
                         const std::vector<std::string_view>& choices,
                         Choices wording) const {
  std::string s = String(item);
  auto it = std::find(choices.begin(), choices.end(), s);
  if (it != choices.end()) return static_cast<size_t>(it - choices.begin());
  const char* separator = wording == Choices::kOr ? " or " : ", ";
  std::string names = wording == Choices::kOr ? "" : "one of ";
  for (size_t i = 0; i < choices.size(); ++i) {
    names += (i == 0 ? "" : separator) + std::string(choices[i]);
  }
  Fail(item, "must be " + names + ", got " + Quote(s));
}

std::string YamlReader::Url(const Item& item, bool port_required,
                            std::string* host_out) const {
  std::string s = String(item);
  std::string_view rest = s;
  std::string scheme;
  for (std::string_view prefix : {"https://", "http://"}) {
    if (rest.starts_with(prefix)) {
      scheme = prefix;
      rest.remove_prefix(prefix.size());
      break;
    }
  }
  if (scheme.empty()) {
    Fail(item, "must start with https:// or http://, got " + Quote(s));
  }
  if (rest.ends_with('/')) rest.remove_suffix(1);
  // Before anything echoes the URL: user:password@ would be a credential.
  if (rest.find('@') != std::string_view::npos) {
    Fail(item, "must not contain user credentials");
  }
  if (rest.find_first_of("/?#") != std::string_view::npos) {
    Fail(item,
         "must be just scheme://host[:port], without a path, query or "
         "fragment, got " +
             Quote(s));
  }
  std::string_view host = rest;
  std::optional<std::string_view> port;
  size_t colon = rest.rfind(':');
  if (colon != std::string_view::npos &&
      rest.find(']', colon) == std::string_view::npos) {
    host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
  }
  if (!IsHost(host)) Fail(item, "has no valid host, got " + Quote(s));
  if (port && !IsPort(*port)) {
    Fail(item, "has an invalid port, got " + Quote(s));
  }
  if (port_required && !port) {
    Fail(item,
         "must include a port, such as http://proxy.example.com:3128, got " +
             Quote(s));
  }
  if (host_out != nullptr) {
    host_out->clear();
    for (char c : host) {
      *host_out +=
          static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
  }
  return scheme + std::string(rest);
}

std::string YamlReader::ResolvePath(const std::string& path) const {
  std::filesystem::path p(path);
  if (p.is_absolute()) return path;
  return (std::filesystem::path(file()).parent_path() / p).string();
}

}  // namespace cloudaware_exporter
