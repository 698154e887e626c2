#include "exporter/web/web_config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <initializer_list>

#include "exporter/base/file_util.h"
#include "exporter/base/text.h"
#include "exporter/config/yaml_reader.h"

namespace cloudaware_exporter {
namespace {

constexpr size_t kMaxWebConfigBytes = 1 << 20;
// Certificates, keys and CA bundles; a system CA bundle is about 200 KiB.
constexpr size_t kMaxPemBytes = 4 << 20;

// Go's names (crypto/tls CipherSuites(), the secure TLS 1.0-1.2 suites)
// and OpenSSL's. Go's insecure list (RC4, 3DES, CBC with SHA-256) is left
// out, as exporter-toolkit does.
constexpr std::array<std::pair<std::string_view, std::string_view>, 14>
    kCipherSuites = {{
        {"TLS_RSA_WITH_AES_128_CBC_SHA", "AES128-SHA"},
        {"TLS_RSA_WITH_AES_256_CBC_SHA", "AES256-SHA"},
        {"TLS_RSA_WITH_AES_128_GCM_SHA256", "AES128-GCM-SHA256"},
        {"TLS_RSA_WITH_AES_256_GCM_SHA384", "AES256-GCM-SHA384"},
        {"TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", "ECDHE-ECDSA-AES128-SHA"},
        {"TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", "ECDHE-ECDSA-AES256-SHA"},
        {"TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", "ECDHE-RSA-AES128-SHA"},
        {"TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", "ECDHE-RSA-AES256-SHA"},
        {"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
         "ECDHE-ECDSA-AES128-GCM-SHA256"},
        {"TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
         "ECDHE-ECDSA-AES256-GCM-SHA384"},
        {"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
         "ECDHE-RSA-AES128-GCM-SHA256"},
        {"TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
         "ECDHE-RSA-AES256-GCM-SHA384"},
        {"TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
         "ECDHE-RSA-CHACHA20-POLY1305"},
        {"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
         "ECDHE-ECDSA-CHACHA20-POLY1305"},
    }};

// Go accepts these names but cannot restrict TLS 1.3 suites, and neither
// do we: OpenSSL keeps all three enabled.
constexpr std::array<std::string_view, 3> kTls13CipherSuites = {
    "TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384",
    "TLS_CHACHA20_POLY1305_SHA256"};

constexpr std::array<std::pair<std::string_view, std::string_view>, 4> kCurves =
    {{{"CurveP256", "P-256"},
      {"CurveP384", "P-384"},
      {"CurveP521", "P-521"},
      {"X25519", "X25519"}}};

// exporter-toolkit allows only these, so that every Prometheus component
// behaves alike; an empty list of values allows any value.
struct AllowedHeader {
  std::string_view name;
  std::vector<std::string_view> values;
};
const std::array<AllowedHeader, 5>& AllowedHeaders() {
  static const std::array<AllowedHeader, 5> headers = {{
      {"Strict-Transport-Security", {}},
      {"X-Content-Type-Options", {"nosniff"}},
      {"X-Frame-Options", {"deny", "sameorigin"}},
      {"X-XSS-Protection", {}},
      {"Content-Security-Policy", {}},
  }};
  return headers;
}

class Parser : public YamlReader {
 public:
  explicit Parser(const std::string& file) : YamlReader(file) {}

  WebConfig Parse(std::string_view yaml);

 private:
  [[noreturn]] void Throw(std::string message) const override {
    throw WebConfigError(message);
  }
  std::string Where(const Item& item) const;

  // `unsupported`: exporter-toolkit keys this exporter does not implement,
  // refused with a message that says so.
  Mapping Map(const Item& item, std::initializer_list<std::string_view> known,
              std::initializer_list<std::string_view> unsupported = {}) const;
  size_t OneOf(const Item& item,
               const std::vector<std::string_view>& choices) const {
    return YamlReader::OneOf(item, choices, Choices::kOneOf);
  }
  WebConfigFile File(const Item& item) const;

  std::optional<WebTlsConfig> ParseTls(const Item& item) const;
  ClientAuthType ClientAuth(const Item& item) const;
  void ParseVersions(const Mapping& m, WebTlsConfig& tls) const;
  // Go's names in, OpenSSL's out; TLS 1.3 suites are left out.
  std::vector<std::string> CipherSuites(const Item& list) const;
  std::vector<std::string> Curves(const Item& list) const;
  void ParseHttp(const Item& item, WebConfig& config) const;
  void ParseUsers(const Item& item, WebConfig& config) const;
};

std::string Parser::Where(const Item& item) const {
  const YAML::Mark mark = item.node.Mark();
  return file() + ":" + std::to_string(mark.line + 1) + ":" +
         std::to_string(mark.column + 1) + ": " + item.path;
}

YamlReader::Mapping Parser::Map(
    const Item& item, std::initializer_list<std::string_view> known,
    std::initializer_list<std::string_view> unsupported) const {
  return YamlReader::Map(item, known, "a mapping", [&](const Item& key) {
    if (std::find(unsupported.begin(), unsupported.end(), key.node.Scalar()) !=
        unsupported.end()) {
      Fail(key,
           "is an exporter-toolkit setting that cloudaware_exporter does not "
           "support");
    }
  });
}

WebConfigFile Parser::File(const Item& item) const {
  WebConfigFile f{ResolvePath(NonEmpty(item)), Where(item)};
  std::string content;
  if (auto err = ReadFile(f.path, kMaxPemBytes, &content)) {
    Fail(item, "cannot read " + f.path + ": " + *err);
  }
  return f;
}

WebConfig Parser::Parse(std::string_view text) {
  YAML::Node root = LoadDocument(std::string(text));
  WebConfig config;
  config.file = file();
  // Like exporter-toolkit, an empty file enables nothing.
  if (root.IsNull()) return config;
  Mapping top =
      Map({root, ""},
          {"tls_server_config", "http_server_config", "basic_auth_users"},
          {"rate_limit"});
  if (auto v = top.Get("tls_server_config")) config.tls = ParseTls(*v);
  if (auto v = top.Get("http_server_config")) ParseHttp(*v, config);
  if (auto v = top.Get("basic_auth_users")) ParseUsers(*v, config);
  return config;
}

std::optional<WebTlsConfig> Parser::ParseTls(const Item& item) const {
  Mapping m =
      Map(item,
          {"cert_file", "key_file", "client_ca_file", "client_auth_type",
           "min_version", "max_version", "cipher_suites", "curve_preferences",
           "prefer_server_cipher_suites"},
          {"cert", "key", "client_ca", "client_allowed_sans"});
  // As in exporter-toolkit, `tls_server_config: {}` leaves TLS off.
  if (m.entries.empty()) return std::nullopt;
  WebTlsConfig tls;
  tls.origin = Where(item);
  tls.cert_file = File(Required(m, "cert_file"));
  tls.key_file = File(Required(m, "key_file"));
  std::optional<Item> ca = m.Get("client_ca_file");
  if (ca) tls.client_ca_file = File(*ca);

  std::optional<Item> auth = m.Get("client_auth_type");
  if (auth && !String(*auth).empty()) tls.client_auth = ClientAuth(*auth);
  if (ca && tls.client_auth == ClientAuthType::kNoClientCert) {
    Fail(*ca,
         "is set but client_auth_type is NoClientCert, so no client "
         "certificate would be asked for; set client_auth_type, e.g. to "
         "RequireAndVerifyClientCert");
  }
  // Go would fall back to the system CAs here; a client certificate signed
  // by any public CA is rarely what anyone wants.
  if (!ca && (tls.client_auth == ClientAuthType::kVerifyClientCertIfGiven ||
              tls.client_auth == ClientAuthType::kRequireAndVerifyClientCert)) {
    Fail(*auth, String(*auth) +
                    " needs client_ca_file, the CA that signs the client "
                    "certificates");
  }
  ParseVersions(m, tls);
  if (auto v = m.Get("cipher_suites")) tls.cipher_suites = CipherSuites(*v);
  if (auto v = m.Get("curve_preferences")) {
    tls.curve_preferences = Curves(*v);
  }
  if (auto v = m.Get("prefer_server_cipher_suites")) {
    tls.prefer_server_cipher_suites = Bool(*v);
  }
  return tls;
}

ClientAuthType Parser::ClientAuth(const Item& item) const {
  // RequireClientCert is exporter-toolkit's old name for
  // RequireAnyClientCert, still accepted there.
  switch (OneOf(item, {"NoClientCert", "RequestClientCert",
                       "RequireAnyClientCert", "VerifyClientCertIfGiven",
                       "RequireAndVerifyClientCert", "RequireClientCert"})) {
    case 0:
      return ClientAuthType::kNoClientCert;
    case 1:
      return ClientAuthType::kRequestClientCert;
    case 2:
    case 5:
      return ClientAuthType::kRequireAnyClientCert;
    case 3:
      return ClientAuthType::kVerifyClientCertIfGiven;
    default:
      return ClientAuthType::kRequireAndVerifyClientCert;
  }
}

void Parser::ParseVersions(const Mapping& m, WebTlsConfig& tls) const {
  auto version = [&](const Item& v) {
    return static_cast<TlsVersion>(
        OneOf(v, {"TLS10", "TLS11", "TLS12", "TLS13"}));
  };
  std::optional<Item> min = m.Get("min_version");
  std::optional<Item> max = m.Get("max_version");
  if (min) tls.min_version = version(*min);
  if (max) tls.max_version = version(*max);
  // Only a configured max_version can be below the minimum: the default
  // is the highest.
  if (max && tls.max_version < tls.min_version) {
    Fail(*max, "max_version " + String(*max) + " is below min_version " +
                   (min ? String(*min) : std::string("TLS12")));
  }
}

std::vector<std::string> Parser::CipherSuites(const Item& list) const {
  std::vector<std::string> suites;
  for (const Item& suite : List(list)) {
    const std::string name = String(suite);
    if (std::find(kTls13CipherSuites.begin(), kTls13CipherSuites.end(), name) !=
        kTls13CipherSuites.end()) {
      continue;
    }
    auto it = std::find_if(kCipherSuites.begin(), kCipherSuites.end(),
                           [&](const auto& c) { return c.first == name; });
    if (it == kCipherSuites.end()) {
      Fail(suite, "unknown or insecure cipher suite " + Quote(name) +
                      "; use Go's names for TLS 1.2 suites, such as "
                      "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256");
    }
    suites.emplace_back(it->second);
  }
  return suites;
}

std::vector<std::string> Parser::Curves(const Item& list) const {
  std::vector<std::string> curves;
  for (const Item& curve : List(list)) {
    const std::string name = String(curve);
    auto it = std::find_if(kCurves.begin(), kCurves.end(),
                           [&](const auto& c) { return c.first == name; });
    if (it == kCurves.end()) {
      Fail(curve, "unknown curve " + Quote(name) +
                      " (known: CurveP256, CurveP384, CurveP521, X25519)");
    }
    curves.emplace_back(it->second);
  }
  return curves;
}

void Parser::ParseHttp(const Item& item, WebConfig& config) const {
  Mapping m = Map(item, {"headers", "http2"});
  if (auto v = m.Get("http2"); v && Bool(*v)) {
    Fail(*v,
         "HTTP/2 is not supported: the exporter serves HTTP/1.1; remove "
         "http2 or set it to false");
  }
  auto headers = m.Get("headers");
  if (!headers) return;
  for (const auto& e : Map(*headers, {}).entries) {
    const Item key{e.key_node, e.value.path};
    auto allowed = std::find_if(
        AllowedHeaders().begin(), AllowedHeaders().end(),
        [&](const auto& h) { return EqualsIgnoreCase(h.name, e.key); });
    if (allowed == AllowedHeaders().end()) {
      Fail(key, "header " + Quote(e.key) +
                    " cannot be configured (allowed: "
                    "Strict-Transport-Security, X-Content-Type-Options, "
                    "X-Frame-Options, X-XSS-Protection, "
                    "Content-Security-Policy)");
    }
    const std::string value = String(e.value);
    if (value.empty() || std::any_of(value.begin(), value.end(), [](char c) {
          return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
        })) {
      Fail(e.value, "must be a non-empty value without control characters");
    }
    if (!allowed->values.empty()) OneOf(e.value, allowed->values);
    for (const auto& [name, unused] : config.headers) {
      if (name == allowed->name) {
        Fail(key, "header " + std::string(name) + " is set twice");
      }
    }
    config.headers.emplace_back(std::string(allowed->name), value);
  }
}

// Messages here never quote a hash.
void Parser::ParseUsers(const Item& item, WebConfig& config) const {
  for (const auto& e : Map(item, {}).entries) {
    const Item key{e.key_node, e.value.path};
    if (e.key.empty()) Fail(key, "user names must not be empty");
    if (e.key.find(':') != std::string::npos) {
      Fail(key,
           "user names cannot contain ':' (basic auth splits the user from "
           "the password at the first ':')");
    }
    // A null value has no position of its own; its key has.
    if (e.value.node.IsNull()) Fail(key, "must be a bcrypt hash, got nothing");
    if (!e.value.node.IsScalar()) {
      Fail(e.value, "must be a bcrypt hash, got " + KindName(e.value.node));
    }
    std::string hash = e.value.node.Scalar();
    if (!IsBcryptHash(hash)) {
      Fail(e.value,
           "is not a bcrypt hash: want $2a$, $2b$ or $2y$, a cost from 04 "
           "to 31 and 53 more characters, as `htpasswd -nbB USER PASSWORD` "
           "prints after the ':'");
    }
    config.basic_auth_users.emplace(e.key, Secret(std::move(hash)));
  }
}

}  // namespace

bool IsBcryptHash(std::string_view hash) {
  constexpr size_t kLength = 60;
  if (hash.size() != kLength) return false;
  if (hash.substr(0, 3) != "$2a" && hash.substr(0, 3) != "$2b" &&
      hash.substr(0, 3) != "$2y") {
    return false;
  }
  if (hash[3] != '$' || hash[6] != '$') return false;
  if (hash[4] < '0' || hash[4] > '9' || hash[5] < '0' || hash[5] > '9') {
    return false;
  }
  const int cost = (hash[4] - '0') * 10 + (hash[5] - '0');
  if (cost < 4 || cost > 31) return false;
  return std::all_of(hash.begin() + 7, hash.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '.' || c == '/';
  });
}

WebConfig LoadWebConfig(const std::string& path) {
  std::string yaml;
  if (auto err = ReadFile(path, kMaxWebConfigBytes, &yaml)) {
    throw WebConfigError(path + ": cannot read web config file: " + *err);
  }
  return ParseWebConfig(yaml, path);
}

WebConfig ParseWebConfig(std::string_view yaml, const std::string& file_name) {
  Parser parser(file_name);
  try {
    return parser.Parse(yaml);
  } catch (const YAML::Exception& e) {
    // The parser only reads nodes it has checked; this is a safety net so
    // that no input can get past the WebConfigError contract.
    throw WebConfigError(file_name + ": cannot read the YAML: " + e.msg);
  }
}

}  // namespace cloudaware_exporter
