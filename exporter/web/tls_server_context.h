// The TLS side of WebServer. It loads the certificate, key and client CAs a
// web config names, and applies the web config's TLS settings to each
// connection when OpenSSL sees its ClientHello, on the server's I/O thread
// doing the handshake. At that point it also checks whether those files
// changed on disk (inode, size, modification time) and, if they did,
// re-reads them, so a renewed certificate is served without a restart, the
// way exporter-toolkit re-reads its files for every connection. A re-read
// that fails (say, a new certificate whose key is not written yet) is
// logged once and the previous certificate stays in use.
//
// HttpServer calls SetUp() once, on the SSL_CTX it serves with. Update()
// (a reload of the web config) may run at the same time as handshakes.
// Thread-safe.
#ifndef CLOUDAWARE_EXPORTER_TLS_SERVER_CONTEXT_H_
#define CLOUDAWARE_EXPORTER_TLS_SERVER_CONTEXT_H_

#include <openssl/ssl.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "exporter/base/file_util.h"
#include "exporter/web/web_config.h"

namespace cloudaware_exporter {

class TlsServerContext {
 public:
  // Loads and checks the files; throws WebConfigError naming the file and
  // the problem.
  explicit TlsServerContext(const WebTlsConfig& config);
  ~TlsServerContext();
  TlsServerContext(const TlsServerContext&) = delete;
  TlsServerContext& operator=(const TlsServerContext&) = delete;

  // Once, on the SSL_CTX every connection is made from.
  bool SetUp(SSL_CTX& ctx);

  // New settings and files for the next handshakes. Throws WebConfigError
  // and keeps the current ones when the new files do not load.
  void Update(const WebTlsConfig& config);

  // How often the files were loaded, the first time included. For tests.
  uint64_t loads() const { return loads_.load(); }

 private:
  struct Material;
  struct State;

  // cert_file, key_file, client_ca_file, in that order.
  static std::vector<FileStamp> Stamps(const WebTlsConfig& config);
  std::shared_ptr<const State> Load(const WebTlsConfig& config);
  // The current state, re-reading the files first if they changed.
  std::shared_ptr<const State> Fresh();
  bool Apply(SSL* ssl, const State& state) const;
  static int OnClientHello(SSL* ssl, int* alert, void* arg);

  std::mutex mu_;  // guards state_ and failed_stamps_
  std::shared_ptr<const State> state_;
  // The files' stamps when a re-read last failed: not retried until they
  // change again.
  std::vector<FileStamp> failed_stamps_;
  std::mutex reload_mu_;  // one re-read at a time
  std::atomic<uint64_t> loads_{0};
};

}  // namespace cloudaware_exporter

#endif  // CLOUDAWARE_EXPORTER_TLS_SERVER_CONTEXT_H_
