#include "exporter/web/web_config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "bcrypt_util.h"

namespace cloudaware_exporter {
namespace {

namespace fs = std::filesystem;

class WebConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("web-config-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
    // The parser only checks that these can be read; TlsServerContext
    // checks what they hold (see web_test.cc).
    for (const char* name : {"server.pem", "server.key", "ca.pem"}) {
      std::ofstream(dir_ / name) << "pem\n";
    }
    file_ = (dir_ / "web.yml").string();
    hash_ = test_util::BcryptHash("s3cret-pass");
  }
  void TearDown() override { fs::remove_all(dir_); }

  WebConfig Load(const std::string& yaml) {
    std::ofstream(file_) << yaml;
    return LoadWebConfig(file_);
  }

  // The message of the WebConfigError that loading yaml throws.
  std::string ErrorOf(const std::string& yaml) {
    try {
      Load(yaml);
    } catch (const WebConfigError& e) {
      return e.what();
    }
    return "";
  }

  fs::path dir_;
  std::string file_;
  std::string hash_;
};

constexpr char kTls[] = R"(tls_server_config:
  cert_file: server.pem
  key_file: server.key
)";

TEST_F(WebConfigTest, FullFile) {
  WebConfig c = Load(std::string(R"(tls_server_config:
  cert_file: server.pem
  key_file: )") + (dir_ / "server.key").string() +
                     R"(
  client_ca_file: ca.pem
  client_auth_type: RequireAndVerifyClientCert
  min_version: TLS13
  max_version: TLS13
  cipher_suites: [TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, TLS_AES_128_GCM_SHA256,
                  TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256]
  curve_preferences: [X25519, CurveP256]
  prefer_server_cipher_suites: false
http_server_config:
  http2: false
  headers:
    X-Frame-Options: deny
    strict-transport-security: max-age=31536000
basic_auth_users:
  alice: )" + hash_ + R"(
  bob: ')" + hash_ + R"('
)");
  EXPECT_EQ(c.file, file_);
  ASSERT_TRUE(c.tls);
  EXPECT_EQ(c.tls->origin, file_ + ":2:3: tls_server_config");
  EXPECT_EQ(c.tls->cert_file.path, (dir_ / "server.pem").string());
  EXPECT_EQ(c.tls->cert_file.origin,
            file_ + ":2:14: tls_server_config.cert_file");
  EXPECT_EQ(c.tls->key_file.path, (dir_ / "server.key").string());
  ASSERT_TRUE(c.tls->client_ca_file);
  EXPECT_EQ(c.tls->client_ca_file->path, (dir_ / "ca.pem").string());
  EXPECT_EQ(c.tls->client_auth, ClientAuthType::kRequireAndVerifyClientCert);
  EXPECT_EQ(c.tls->min_version, TlsVersion::kTls13);
  EXPECT_EQ(c.tls->max_version, TlsVersion::kTls13);
  EXPECT_EQ(c.tls->cipher_suites,
            (std::vector<std::string>{"ECDHE-RSA-AES128-GCM-SHA256",
                                      "ECDHE-ECDSA-CHACHA20-POLY1305"}));
  EXPECT_EQ(c.tls->curve_preferences,
            (std::vector<std::string>{"X25519", "P-256"}));
  EXPECT_FALSE(c.tls->prefer_server_cipher_suites);
  EXPECT_EQ(c.headers, (std::vector<std::pair<std::string, std::string>>{
                           {"X-Frame-Options", "deny"},
                           {"Strict-Transport-Security", "max-age=31536000"}}));
  ASSERT_EQ(c.basic_auth_users.size(), 2u);
  EXPECT_EQ(c.basic_auth_users.at("alice").Reveal(), hash_);
  EXPECT_EQ(c.basic_auth_users.at("bob").Reveal(), hash_);
}

TEST_F(WebConfigTest, Defaults) {
  WebConfig c = Load(kTls);
  ASSERT_TRUE(c.tls);
  EXPECT_FALSE(c.tls->client_ca_file);
  EXPECT_EQ(c.tls->client_auth, ClientAuthType::kNoClientCert);
  EXPECT_EQ(c.tls->min_version, TlsVersion::kTls12);
  EXPECT_EQ(c.tls->max_version, TlsVersion::kTls13);
  EXPECT_TRUE(c.tls->cipher_suites.empty());
  EXPECT_TRUE(c.tls->curve_preferences.empty());
  EXPECT_TRUE(c.tls->prefer_server_cipher_suites);
  EXPECT_TRUE(c.headers.empty());
  EXPECT_TRUE(c.basic_auth_users.empty());
}

TEST_F(WebConfigTest, EmptyPartsEnableNothing) {
  for (const char* yaml : {"", "# nothing\n", "tls_server_config: {}\n",
                           "tls_server_config:\nbasic_auth_users: {}\n"}) {
    WebConfig c = Load(yaml);
    EXPECT_FALSE(c.tls) << yaml;
    EXPECT_TRUE(c.basic_auth_users.empty()) << yaml;
  }
}

TEST_F(WebConfigTest, ClientAuthTypes) {
  const std::vector<std::pair<std::string, ClientAuthType>> cases = {
      {"NoClientCert", ClientAuthType::kNoClientCert},
      {"RequestClientCert", ClientAuthType::kRequestClientCert},
      {"RequireAnyClientCert", ClientAuthType::kRequireAnyClientCert},
      {"RequireClientCert", ClientAuthType::kRequireAnyClientCert},
      {"VerifyClientCertIfGiven", ClientAuthType::kVerifyClientCertIfGiven},
      {"RequireAndVerifyClientCert",
       ClientAuthType::kRequireAndVerifyClientCert},
  };
  for (const auto& [name, want] : cases) {
    const std::string ca = want == ClientAuthType::kNoClientCert
                               ? ""
                               : "  client_ca_file: ca.pem\n";
    WebConfig c =
        Load(std::string(kTls) + ca + "  client_auth_type: " + name + "\n");
    EXPECT_EQ(c.tls->client_auth, want) << name;
  }
}

TEST_F(WebConfigTest, UnreadableFileIsNamed) {
  const std::string missing = (dir_ / "nope.yml").string();
  try {
    LoadWebConfig(missing);
    FAIL() << "loaded a missing file";
  } catch (const WebConfigError& e) {
    EXPECT_EQ(std::string(e.what()),
              missing +
                  ": cannot read web config file: No such file or "
                  "directory");
  }
  try {
    LoadWebConfig(dir_.string());
    FAIL() << "loaded a directory";
  } catch (const WebConfigError& e) {
    EXPECT_EQ(std::string(e.what()),
              dir_.string() + ": cannot read web config file: Is a directory");
  }
}

TEST_F(WebConfigTest, BadFiles) {
  const std::string tls_keys =
      "(known: cert_file, key_file, client_ca_file, client_auth_type, "
      "min_version, max_version, cipher_suites, curve_preferences, "
      "prefer_server_cipher_suites)";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"tls_server_config: [\n",
       ":2:1: YAML syntax error: end of sequence flow not found"},
      {"a: 1\n---\nb: 2\n", ":3:1: must hold a single YAML document"},
      {"- tls_server_config\n", ":1:1: must be a mapping, got a list"},
      {"tls_config: {}\n",
       ":1:1: tls_config: unknown key 'tls_config' (known: "
       "tls_server_config, http_server_config, basic_auth_users)"},
      {"rate_limit: {burst: 1}\n",
       ":1:1: rate_limit: is an exporter-toolkit setting that "
       "cloudaware_exporter does not support"},
      {"tls_server_config: {}\ntls_server_config: {}\n",
       ":2:1: tls_server_config: duplicate key 'tls_server_config'"},
      {std::string(kTls) + "  certfile: x\n",
       ":4:3: tls_server_config.certfile: unknown key 'certfile' " + tls_keys},
      {std::string(kTls) + "  client_allowed_sans: [a]\n",
       ":4:3: tls_server_config.client_allowed_sans: is an exporter-toolkit "
       "setting that cloudaware_exporter does not support"},
      {"tls_server_config:\n  cert_file: server.pem\n",
       ":2:3: tls_server_config.key_file: is required"},
      {"tls_server_config:\n  key_file: server.key\n  min_version: TLS13\n",
       ":2:3: tls_server_config.cert_file: is required"},
      {"tls_server_config:\n  cert_file: ''\n  key_file: server.key\n",
       ":2:14: tls_server_config.cert_file: must not be empty"},
      {"tls_server_config:\n  cert_file: [a]\n  key_file: server.key\n",
       ":2:14: tls_server_config.cert_file: must be a string, got a list"},
      {"tls_server_config:\n  cert_file: missing.pem\n  key_file: "
       "server.key\n",
       ":2:14: tls_server_config.cert_file: cannot read " +
           (dir_ / "missing.pem").string() + ": No such file or directory"},
      {"tls_server_config:\n  cert_file: server.pem\n  key_file: .\n",
       ":3:13: tls_server_config.key_file: cannot read " +
           (dir_ / ".").string() + ": Is a directory"},
      {std::string(kTls) + "  client_ca_file: nope/ca.pem\n  "
                           "client_auth_type: RequireAndVerifyClientCert\n",
       ":4:19: tls_server_config.client_ca_file: cannot read " +
           (dir_ / "nope/ca.pem").string() + ": No such file or directory"},
      {std::string(kTls) + "  client_auth_type: Sometimes\n",
       ":4:21: tls_server_config.client_auth_type: must be one of "
       "NoClientCert, RequestClientCert, RequireAnyClientCert, "
       "VerifyClientCertIfGiven, RequireAndVerifyClientCert, "
       "RequireClientCert, got 'Sometimes'"},
      {std::string(kTls) + "  client_auth_type: RequireAndVerifyClientCert\n",
       ":4:21: tls_server_config.client_auth_type: RequireAndVerifyClientCert "
       "needs client_ca_file, the CA that signs the client certificates"},
      {std::string(kTls) + "  client_auth_type: VerifyClientCertIfGiven\n",
       ":4:21: tls_server_config.client_auth_type: VerifyClientCertIfGiven "
       "needs client_ca_file, the CA that signs the client certificates"},
      {std::string(kTls) + "  client_ca_file: ca.pem\n",
       ":4:19: tls_server_config.client_ca_file: is set but client_auth_type "
       "is NoClientCert, so no client certificate would be asked for; set "
       "client_auth_type, e.g. to RequireAndVerifyClientCert"},
      {std::string(kTls) + "  min_version: TLS14\n",
       ":4:16: tls_server_config.min_version: must be one of TLS10, TLS11, "
       "TLS12, TLS13, got 'TLS14'"},
      {std::string(kTls) + "  max_version: tls13\n",
       ":4:16: tls_server_config.max_version: must be one of TLS10, TLS11, "
       "TLS12, TLS13, got 'tls13'"},
      {std::string(kTls) + "  min_version: TLS13\n  max_version: TLS12\n",
       ":5:16: tls_server_config.max_version: max_version TLS12 is below "
       "min_version TLS13"},
      {std::string(kTls) + "  max_version: TLS11\n",
       ":4:16: tls_server_config.max_version: max_version TLS11 is below "
       "min_version TLS12"},
      {std::string(kTls) + "  cipher_suites: TLS_AES_128_GCM_SHA256\n",
       ":4:18: tls_server_config.cipher_suites: must be a list, got a "
       "string"},
      {std::string(kTls) + "  cipher_suites:\n    - "
                           "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256\n    - "
                           "TLS_RSA_WITH_RC4_128_SHA\n",
       ":6:7: tls_server_config.cipher_suites[1]: unknown or insecure cipher "
       "suite 'TLS_RSA_WITH_RC4_128_SHA'; use Go's names for TLS 1.2 "
       "suites, such as TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"},
      {std::string(kTls) + "  curve_preferences: [P-256]\n",
       ":4:23: tls_server_config.curve_preferences[0]: unknown curve 'P-256' "
       "(known: CurveP256, CurveP384, CurveP521, X25519)"},
      {std::string(kTls) + "  prefer_server_cipher_suites: yes\n",
       ":4:32: tls_server_config.prefer_server_cipher_suites: must be true "
       "or false, got 'yes'"},
      {"http_server_config:\n  http2: true\n",
       ":2:10: http_server_config.http2: HTTP/2 is not supported: the "
       "exporter serves HTTP/1.1; remove http2 or set it to false"},
      {"http_server_config:\n  header: {}\n",
       ":2:3: http_server_config.header: unknown key 'header' (known: "
       "headers, http2)"},
      {"http_server_config:\n  headers:\n    Server: nginx\n",
       ":3:5: http_server_config.headers.Server: header 'Server' cannot be "
       "configured (allowed: Strict-Transport-Security, "
       "X-Content-Type-Options, X-Frame-Options, X-XSS-Protection, "
       "Content-Security-Policy)"},
      {"http_server_config:\n  headers:\n    X-Frame-Options: allow\n",
       ":3:22: http_server_config.headers.X-Frame-Options: must be one of "
       "deny, sameorigin, got 'allow'"},
      {"http_server_config:\n  headers:\n    X-Content-Type-Options: ''\n",
       ":3:29: http_server_config.headers.X-Content-Type-Options: must be a "
       "non-empty value without control characters"},
      {"http_server_config:\n  headers:\n    X-Frame-Options: deny\n    "
       "x-frame-options: deny\n",
       ":4:5: http_server_config.headers.x-frame-options: header "
       "X-Frame-Options is set twice"},
      {"basic_auth_users: [alice]\n",
       ":1:19: basic_auth_users: must be a mapping, got a list"},
      {"basic_auth_users:\n  alice:\n",
       ":2:3: basic_auth_users.alice: must be a bcrypt hash, got nothing"},
      {"basic_auth_users:\n  'al:ice': " + hash_ + "\n",
       ":2:3: basic_auth_users.al:ice: user names cannot contain ':' (basic "
       "auth splits the user from the password at the first ':')"},
      {"basic_auth_users:\n  '': " + hash_ + "\n",
       ":2:3: basic_auth_users.: user names must not be empty"},
  };
  for (const auto& [yaml, want] : cases) {
    EXPECT_EQ(ErrorOf(yaml), file_ + want) << yaml;
  }
}

// The message names the user and says what is wrong, but never echoes
// the value: it might be the password itself, pasted by mistake.
TEST_F(WebConfigTest, NonBcryptHashIsRefusedWithoutEchoingIt) {
  const std::string want =
      file_ +
      ":2:10: basic_auth_users.alice: is not a bcrypt hash: want $2a$, $2b$ "
      "or $2y$, a cost from 04 to 31 and 53 more characters, as `htpasswd "
      "-nbB USER PASSWORD` prints after the ':'";
  for (const std::string& value :
       {std::string("hunter2"),
        std::string("$1$saltsalt$hunter2hunter2hunter2xx"),
        std::string("$6$rounds=5000$hunter2$abcdefghijklmnop"),
        "$2x$" + hash_.substr(4), "$2b$03$" + hash_.substr(7),
        hash_.substr(0, 59), hash_ + "x", hash_.substr(0, 59) + "!"}) {
    const std::string error =
        ErrorOf("basic_auth_users:\n  alice: '" + value + "'\n");
    EXPECT_EQ(error, want) << value;
    EXPECT_EQ(error.find("hunter2"), std::string::npos);
  }
  EXPECT_EQ(ErrorOf("basic_auth_users:\n  alice: {a: 1}\n"),
            file_ +
                ":2:10: basic_auth_users.alice: must be a bcrypt hash, got a "
                "mapping");
}

TEST(IsBcryptHashTest, Formats) {
  const std::string hash = test_util::BcryptHash("x");
  EXPECT_TRUE(IsBcryptHash(hash));
  EXPECT_TRUE(IsBcryptHash("$2a$" + hash.substr(4)));
  EXPECT_TRUE(IsBcryptHash("$2y$" + hash.substr(4)));
  EXPECT_TRUE(IsBcryptHash("$2b$31$" + hash.substr(7)));
  EXPECT_FALSE(IsBcryptHash("$2b$32$" + hash.substr(7)));
  EXPECT_FALSE(IsBcryptHash("$2b$1a$" + hash.substr(7)));
  EXPECT_FALSE(IsBcryptHash(""));
  EXPECT_FALSE(IsBcryptHash("$2b$"));
}

}  // namespace
}  // namespace cloudaware_exporter
