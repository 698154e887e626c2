#include "exporter/web/tls_server_context.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <utility>

#include "exporter/base/log.h"

namespace cloudaware_exporter {
namespace {

// The oldest error OpenSSL queued, and the queue emptied, so that it does
// not show up in a later, unrelated message.
std::string OpenSslError() {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "unknown error";
  char buf[256];
  ERR_error_string_n(code, buf, sizeof(buf));
  return buf;
}

// Never prompts: PEM_read_bio_PrivateKey would otherwise ask for a
// passphrase on the terminal.
int NoPassphrase(char*, int, int, void*) { return 0; }

int AcceptAnyCertificate(int, X509_STORE_CTX*) { return 1; }

int OpenSslVersion(TlsVersion v) {
  switch (v) {
    case TlsVersion::kTls10:
      return TLS1_VERSION;
    case TlsVersion::kTls11:
      return TLS1_1_VERSION;
    case TlsVersion::kTls12:
      return TLS1_2_VERSION;
    case TlsVersion::kTls13:
      break;
  }
  return TLS1_3_VERSION;
}

std::string Join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ":") + item;
  return out;
}

struct BioCloser {
  void operator()(BIO* b) const { BIO_free(b); }
};
using BioPtr = std::unique_ptr<BIO, BioCloser>;

BioPtr OpenFile(const WebConfigFile& file) {
  errno = 0;
  BioPtr bio(BIO_new_file(file.path.c_str(), "r"));
  if (!bio) {
    const int err = errno;
    ERR_clear_error();
    throw WebConfigError(file.origin + ": cannot read " + file.path + ": " +
                         (err != 0 ? std::strerror(err) : "unknown error"));
  }
  return bio;
}

}  // namespace

// What the files held when they were last read.
struct TlsServerContext::Material {
  X509* cert = nullptr;
  STACK_OF(X509) * chain = nullptr;
  EVP_PKEY* key = nullptr;
  X509_STORE* client_cas = nullptr;
  STACK_OF(X509_NAME) * client_ca_names = nullptr;

  Material() = default;
  Material(const Material&) = delete;
  Material& operator=(const Material&) = delete;
  ~Material() {
    X509_free(cert);
    sk_X509_pop_free(chain, X509_free);
    EVP_PKEY_free(key);
    X509_STORE_free(client_cas);
    sk_X509_NAME_pop_free(client_ca_names, X509_NAME_free);
  }
};

struct TlsServerContext::State {
  WebTlsConfig config;
  std::string cipher_list;  // OpenSSL syntax; empty: the default
  std::string groups;       // likewise
  std::shared_ptr<const Material> material;
  // cert_file, key_file, client_ca_file, taken before they were read, so
  // that a change during the read is noticed on the next handshake.
  std::vector<FileStamp> stamps;
};

TlsServerContext::TlsServerContext(const WebTlsConfig& config) {
  state_ = Load(config);
}

TlsServerContext::~TlsServerContext() = default;

std::shared_ptr<const TlsServerContext::State> TlsServerContext::Load(
    const WebTlsConfig& c) {
  auto state = std::make_shared<State>();
  state->config = c;
  state->cipher_list = Join(c.cipher_suites);
  state->groups = Join(c.curve_preferences);
  state->stamps = Stamps(c);

  auto m = std::make_shared<Material>();
  {
    BioPtr bio = OpenFile(c.cert_file);
    m->cert = PEM_read_bio_X509(bio.get(), nullptr, NoPassphrase, nullptr);
    if (m->cert == nullptr) {
      throw WebConfigError(c.cert_file.origin + ": no PEM certificate in " +
                           c.cert_file.path + ": " + OpenSslError());
    }
    // Intermediates follow the certificate, as in exporter-toolkit.
    m->chain = sk_X509_new_null();
    while (X509* extra =
               PEM_read_bio_X509(bio.get(), nullptr, NoPassphrase, nullptr)) {
      sk_X509_push(m->chain, extra);
    }
    ERR_clear_error();  // the end of the file reads as an error
  }
  {
    BioPtr bio = OpenFile(c.key_file);
    m->key = PEM_read_bio_PrivateKey(bio.get(), nullptr, NoPassphrase, nullptr);
    if (m->key == nullptr) {
      ERR_clear_error();
      throw WebConfigError(c.key_file.origin +
                           ": no unencrypted PEM private key in " +
                           c.key_file.path);
    }
  }
  if (X509_check_private_key(m->cert, m->key) != 1) {
    ERR_clear_error();
    throw WebConfigError(
        c.key_file.origin + ": the private key in " + c.key_file.path +
        " does not belong to the certificate in " + c.cert_file.path);
  }
  if (X509_cmp_current_time(X509_get0_notAfter(m->cert)) < 0) {
    LogWarn("the TLS certificate has expired; clients will refuse it",
            {{"cert_file", c.cert_file.path}});
  }
  if (c.client_ca_file) {
    BioPtr bio = OpenFile(*c.client_ca_file);
    m->client_cas = X509_STORE_new();
    m->client_ca_names = sk_X509_NAME_new_null();
    int count = 0;
    while (X509* ca =
               PEM_read_bio_X509(bio.get(), nullptr, NoPassphrase, nullptr)) {
      X509_STORE_add_cert(m->client_cas, ca);
      sk_X509_NAME_push(m->client_ca_names,
                        X509_NAME_dup(X509_get_subject_name(ca)));
      X509_free(ca);
      ++count;
    }
    ERR_clear_error();
    if (count == 0) {
      throw WebConfigError(c.client_ca_file->origin +
                           ": no PEM certificate in " + c.client_ca_file->path);
    }
  }
  state->material = std::move(m);

  // The settings OpenSSL could still refuse (a cipher list that leaves no
  // cipher at all, for instance) are tried on a connection that is never
  // used, so that they fail here rather than in every handshake.
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(
      SSL_CTX_new(TLS_server_method()), SSL_CTX_free);
  std::unique_ptr<SSL, decltype(&SSL_free)> ssl(
      ctx ? SSL_new(ctx.get()) : nullptr, SSL_free);
  if (!ssl || !Apply(ssl.get(), *state)) {
    throw WebConfigError(c.origin +
                         ": OpenSSL refuses these settings: " + OpenSslError());
  }
  ++loads_;
  return state;
}

bool TlsServerContext::SetUp(SSL_CTX& ctx) {
  // Resumed sessions skip the client certificate check, which would let a
  // client keep its access after a reload removed its CA; and scrapes are
  // far apart, so resumption saves little.
  SSL_CTX_set_options(
      &ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_TICKET);
  SSL_CTX_set_session_cache_mode(&ctx, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_num_tickets(&ctx, 0);
  SSL_CTX_set_client_hello_cb(&ctx, &TlsServerContext::OnClientHello, this);
  return true;
}

void TlsServerContext::Update(const WebTlsConfig& config) {
  std::shared_ptr<const State> next = Load(config);
  std::lock_guard<std::mutex> lock(mu_);
  state_ = std::move(next);
  failed_stamps_.clear();
}

std::shared_ptr<const TlsServerContext::State> TlsServerContext::Fresh() {
  std::shared_ptr<const State> state;
  {
    std::lock_guard<std::mutex> lock(mu_);
    state = state_;
  }
  const std::vector<FileStamp> stamps = Stamps(state->config);
  if (stamps == state->stamps) return state;
  // Another handshake is re-reading them; this one keeps the current ones.
  std::unique_lock<std::mutex> reload(reload_mu_, std::try_to_lock);
  if (!reload.owns_lock()) return state;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (state_ != state) return state_;
    if (stamps == failed_stamps_) return state;
  }
  try {
    std::shared_ptr<const State> next = Load(state->config);
    {
      std::lock_guard<std::mutex> lock(mu_);
      // An Update() while the files were read wins.
      if (state_ != state) return state_;
      state_ = next;
    }
    LogInfo("TLS certificate reloaded",
            {{"cert_file", state->config.cert_file.path}});
    return next;
  } catch (const WebConfigError& e) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      failed_stamps_ = stamps;
    }
    LogWarn("cannot reload the TLS certificate; serving the previous one",
            {{"err", e.what()}});
    return state;
  }
}

bool TlsServerContext::Apply(SSL* ssl, const State& state) const {
  const WebTlsConfig& c = state.config;
  const Material& m = *state.material;
  if (SSL_set_min_proto_version(ssl, OpenSslVersion(c.min_version)) != 1 ||
      SSL_set_max_proto_version(ssl, OpenSslVersion(c.max_version)) != 1) {
    return false;
  }
  if (SSL_use_cert_and_key(ssl, m.cert, m.key, m.chain, 1) != 1) return false;
  // Go's client auth types in OpenSSL's terms: whether to ask for a
  // certificate, whether one is required, whether it is verified.
  switch (c.client_auth) {
    case ClientAuthType::kNoClientCert:
      SSL_set_verify(ssl, SSL_VERIFY_NONE, nullptr);
      break;
    case ClientAuthType::kRequestClientCert:
      SSL_set_verify(ssl, SSL_VERIFY_PEER, AcceptAnyCertificate);
      break;
    case ClientAuthType::kRequireAnyClientCert:
      SSL_set_verify(ssl, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
                     AcceptAnyCertificate);
      break;
    case ClientAuthType::kVerifyClientCertIfGiven:
      SSL_set_verify(ssl, SSL_VERIFY_PEER, nullptr);
      break;
    case ClientAuthType::kRequireAndVerifyClientCert:
      SSL_set_verify(ssl, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
                     nullptr);
      break;
  }
  if (m.client_cas != nullptr) {
    // Only the client CAs: the context's store, and with it the system
    // CAs, must not vouch for a client.
    if (SSL_set1_verify_cert_store(ssl, m.client_cas) != 1) return false;
    SSL_set_client_CA_list(ssl, SSL_dup_CA_list(m.client_ca_names));
  }
  if (!state.cipher_list.empty() &&
      SSL_set_cipher_list(ssl, state.cipher_list.c_str()) != 1) {
    return false;
  }
  if (!state.groups.empty() &&
      SSL_set1_groups_list(ssl, state.groups.c_str()) != 1) {
    return false;
  }
  if (c.prefer_server_cipher_suites) {
    SSL_set_options(ssl, SSL_OP_CIPHER_SERVER_PREFERENCE);
  } else {
    SSL_clear_options(ssl, SSL_OP_CIPHER_SERVER_PREFERENCE);
  }
  return true;
}

// OpenSSL picks the protocol version, the cipher and the certificate after
// this callback returns, so whatever it sets on the connection applies to
// this very handshake.
int TlsServerContext::OnClientHello(SSL* ssl, int* alert, void* arg) {
  auto* self = static_cast<TlsServerContext*>(arg);
  std::shared_ptr<const State> state = self->Fresh();
  if (!self->Apply(ssl, *state)) {
    LogError("cannot set up a TLS connection", {{"err", OpenSslError()}});
    *alert = SSL_AD_INTERNAL_ERROR;
    return SSL_CLIENT_HELLO_ERROR;
  }
  return SSL_CLIENT_HELLO_SUCCESS;
}

std::vector<FileStamp> TlsServerContext::Stamps(const WebTlsConfig& c) {
  std::vector<FileStamp> stamps;
  stamps.push_back(FileStamp::Of(c.cert_file.path));
  stamps.push_back(FileStamp::Of(c.key_file.path));
  if (c.client_ca_file) {
    stamps.push_back(FileStamp::Of(c.client_ca_file->path));
  }
  return stamps;
}

}  // namespace cloudaware_exporter
