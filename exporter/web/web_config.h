// The --web.config.file: TLS, basic auth and extra response headers for the
// exporter's own endpoints, in the Prometheus exporter-toolkit web-config
// format. main.cc loads it at start-up and for --config.check; WebServer
// loads it again on SIGHUP and POST /-/reload. The result is a plain value,
// never changed afterwards, so threads may share it read-only.
#ifndef CLOUDAWARE_EXPORTER_WEB_CONFIG_H_
#define CLOUDAWARE_EXPORTER_WEB_CONFIG_H_

#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "exporter/base/secret.h"

namespace cloudaware_exporter {

// exporter-toolkit's names, which are Go's tls.ClientAuthType.
enum class ClientAuthType {
  kNoClientCert,
  kRequestClientCert,
  kRequireAnyClientCert,
  kVerifyClientCertIfGiven,
  kRequireAndVerifyClientCert,
};

enum class TlsVersion { kTls10, kTls11, kTls12, kTls13 };

// A file the web config names, with where it was named
// ("web.yml:3:14: tls_server_config.cert_file") so that problems found
// later in its content are reported like the parser's own.
struct WebConfigFile {
  std::string path;  // resolved against the web config file's directory
  std::string origin;
};

struct WebTlsConfig {
  // Where tls_server_config is ("web.yml:2:3: tls_server_config").
  std::string origin;
  WebConfigFile cert_file;  // the certificate, then any intermediates
  WebConfigFile key_file;
  std::optional<WebConfigFile> client_ca_file;
  ClientAuthType client_auth = ClientAuthType::kNoClientCert;
  TlsVersion min_version = TlsVersion::kTls12;
  TlsVersion max_version = TlsVersion::kTls13;
  // OpenSSL names of the TLS 1.0-1.2 suites, in the configured order; empty
  // is OpenSSL's default. TLS 1.3 suites are always all enabled, as in Go.
  std::vector<std::string> cipher_suites;
  // OpenSSL group names ("X25519", "P-256"); empty is OpenSSL's default.
  std::vector<std::string> curve_preferences;
  bool prefer_server_cipher_suites = true;
};

struct WebConfig {
  std::string file;  // as given on the command line; empty when built in code
  std::optional<WebTlsConfig> tls;  // nullopt: plain HTTP
  // Canonical header name -> value, added to every response.
  std::vector<std::pair<std::string, std::string>> headers;
  // User name -> bcrypt hash. Empty: no authentication.
  std::map<std::string, Secret> basic_auth_users;
};

// The message is complete, one line, in the form of ConfigError:
// "<file>:<line>:<column>: <path>: <problem>". It never contains a hash.
class WebConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Reads and checks the web config file; checks that the files it names can
// be read (their content is checked by TlsServerContext). Throws
// WebConfigError on the first problem.
WebConfig LoadWebConfig(const std::string& path);

// Checks web config text; file_name is used in messages and relative paths
// are resolved against its directory.
WebConfig ParseWebConfig(std::string_view yaml, const std::string& file_name);

// Whether hash is a bcrypt hash libxcrypt can check: $2a$, $2b$ or $2y$, a
// cost from 04 to 31, then 53 characters of bcrypt's base64.
bool IsBcryptHash(std::string_view hash);

}  // namespace cloudaware_exporter

#endif  // CLOUDAWARE_EXPORTER_WEB_CONFIG_H_
