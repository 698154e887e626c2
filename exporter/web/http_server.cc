#include "exporter/web/http_server.h"

// Before any Asio header: with GCC 12 and C++20, asio/awaitable.hpp uses
// std::exchange without including <utility> itself.
#include <utility>
// clang-format off
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
// clang-format on
#include <openssl/ssl.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstring>
#include <exception>
#include <list>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>

#include "exporter/base/duration.h"
#include "exporter/base/log.h"
#include "exporter/web/tls_server_context.h"

namespace cloudaware_exporter {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

// Two cores' worth of sockets; the I/O itself is cheap, the exposition's
// bytes are copied by the kernel.
constexpr int kIoThreads = 2;
// Handlers: scrapes, probes, a bcrypt check (BasicAuth bounds those) or a
// reload at a time.
constexpr int kHandlerThreads = 4;
constexpr size_t kReadSize = 4096;
// After a refused request (413, 431, 400) the client may still be sending;
// reading and dropping a bounded amount before closing lets it read the
// answer rather than a connection reset.
constexpr size_t kLingerBytes = 4 * 1024 * 1024;
constexpr auto kLingerTime = std::chrono::seconds(2);
// accept(2) failing (no file descriptors left, say) is retried after this,
// rather than in a busy loop; and logged at most once per kAcceptLogPeriod.
constexpr auto kAcceptRetry = std::chrono::milliseconds(100);
constexpr auto kAcceptLogPeriod = std::chrono::seconds(10);
// File descriptors beyond the connection cap: the listener, the log, the
// config, the API client's connections, the storage.
constexpr rlim_t kSpareFds = 256;

bool IEquals(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view View(beast::string_view s) { return {s.data(), s.size()}; }

int64_t Now() { return Clock::now().time_since_epoch().count(); }

// The status line and headers of an answer; the body follows as it is.
std::string Head(const WebResponse& res, unsigned version, bool keep_alive,
                 size_t length, std::chrono::milliseconds idle) {
  std::string head = version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ";
  head += std::to_string(res.status);
  head += ' ';
  head += View(http::obsolete_reason(http::int_to_status(res.status)));
  head += "\r\n";
  for (const auto& [name, value] : res.headers) {
    head += name;
    head += ": ";
    head += value;
    head += "\r\n";
  }
  head += "Content-Length: " + std::to_string(length) + "\r\n";
  if (keep_alive) {
    if (version == 10) head += "Connection: keep-alive\r\n";
    const auto seconds = std::max<int64_t>(
        1, std::chrono::ceil<std::chrono::seconds>(idle).count());
    head += "Keep-Alive: timeout=" + std::to_string(seconds) + "\r\n";
  } else if (version != 10) {
    head += "Connection: close\r\n";
  }
  head += "\r\n";
  return head;
}

WebResponse Text(int status, std::string body) {
  WebResponse res;
  res.status = status;
  res.SetHeader("Content-Type", "text/plain; charset=utf-8");
  res.SetBody(std::move(body));
  return res;
}

// A malformed request, as opposed to a connection that ended or timed out.
bool IsBadRequest(const beast::error_code& ec) {
  return ec.category() ==
             http::make_error_code(http::error::bad_method).category() &&
         ec != http::error::end_of_stream && ec != http::error::partial_message;
}

void RaiseFdLimit(size_t connections) {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  const rlim_t want = static_cast<rlim_t>(connections) + kSpareFds;
  if (limit.rlim_cur >= want) return;
  limit.rlim_cur = std::min(want, limit.rlim_max);
  setrlimit(RLIMIT_NOFILE, &limit);
}

}  // namespace

const char kHttpLimitFlagsUsage[] =
    R"(  --web.max-connections=N         open connections at most; when full the one
                                  idle the longest is closed (default 1024)
  --web.request-head-timeout=DUR  for a whole request head (default 10s)
  --web.idle-timeout=DUR          a kept-alive connection between requests
                                  (default 1m)
)";

std::optional<std::string> ParseHttpLimitFlag(const std::string& name,
                                              const std::string& value,
                                              HttpLimits& limits) {
  if (name == "--web.max-connections") {
    const bool digits = !value.empty() && value.size() <= 7 &&
                        std::all_of(value.begin(), value.end(), [](char c) {
                          return c >= '0' && c <= '9';
                        });
    if (!digits || std::stoul(value) == 0) {
      return name + " must be a positive number, got '" + value + "'";
    }
    limits.max_connections = std::stoul(value);
    return "";
  }
  std::chrono::milliseconds* duration = nullptr;
  if (name == "--web.request-head-timeout") duration = &limits.head_timeout;
  if (name == "--web.idle-timeout") duration = &limits.idle_timeout;
  if (duration == nullptr) return std::nullopt;
  const std::optional<std::chrono::milliseconds> parsed = ParseDuration(value);
  if (!parsed || parsed->count() <= 0) {
    return name + " must be a positive duration such as 10s, got '" + value +
           "'";
  }
  *duration = *parsed;
  return "";
}

std::string WebRequest::Header(std::string_view name) const {
  for (const auto& [n, v] : headers) {
    if (IEquals(n, name)) return v;
  }
  return "";
}

size_t WebRequest::HeaderCount(std::string_view name) const {
  return std::count_if(headers.begin(), headers.end(),
                       [&](const auto& h) { return IEquals(h.first, name); });
}

void WebResponse::SetHeader(std::string_view name, std::string value) {
  headers.erase(
      std::remove_if(headers.begin(), headers.end(),
                     [&](const auto& h) { return IEquals(h.first, name); }),
      headers.end());
  headers.emplace_back(std::string(name), std::move(value));
}

void WebResponse::SetBody(std::string content) {
  body = {std::make_shared<const std::string>(std::move(content))};
}

// What the server knows of a connection, from any thread: whether it is
// answering a request (then it is never evicted) and since when it idles.
class ConnectionBase : public std::enable_shared_from_this<ConnectionBase> {
 public:
  virtual ~ConnectionBase() = default;
  virtual void Begin() = 0;
  // Closes now if idle, else after the answer. Any thread.
  virtual void Close() = 0;

  std::atomic<bool> busy{false};
  std::atomic<bool> closing{false};
  std::atomic<int64_t> idle_since{Now()};
  bool registered = false;  // guarded by the server's mutex
  std::list<ConnectionBase*>::iterator where;
};

class HttpServer::Impl {
 public:
  Impl(HttpLimits limits, HttpHandler handler, TlsServerContext* tls)
      : limits_(limits), handler_(std::move(handler)), tls_(tls) {}
  ~Impl() { Stop(); }

  void Start(const std::string& host, int port, const std::string& address);
  void Stop();
  int port() const { return port_; }
  void CloseConnections();
  size_t connections() const {
    std::lock_guard<std::mutex> lock(mu_);
    return connections_.size();
  }

  const HttpLimits& limits() const { return limits_; }
  asio::thread_pool& pool() { return *pool_; }
  WebResponse Handle(const WebRequest& request) const;
  void Forget(ConnectionBase* connection);

 private:
  void Accept();
  void OnAccept(tcp::socket socket);
  bool Admit(const std::shared_ptr<ConnectionBase>& connection);
  void RunIo();

  const HttpLimits limits_;
  const HttpHandler handler_;
  TlsServerContext* const tls_;
  std::unique_ptr<asio::io_context> io_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>>
      work_;
  std::unique_ptr<asio::ssl::context> ssl_;
  std::unique_ptr<tcp::acceptor> acceptor_;
  std::unique_ptr<asio::steady_timer> accept_retry_;
  std::optional<Clock::time_point> last_accept_log_;
  std::unique_ptr<asio::thread_pool> pool_;
  std::vector<std::thread> threads_;
  int port_ = 0;
  mutable std::mutex mu_;
  std::list<ConnectionBase*> connections_;  // guarded by mu_
};

namespace {

using PlainStream = beast::tcp_stream;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

// One connection's life: [handshake,] then head, handler, answer, for as
// long as the client keeps it alive. Runs on its own strand; the handler
// runs on the pool and posts the answer back.
template <class Stream>
class Connection : public ConnectionBase {
 public:
  static constexpr bool kTls = std::is_same_v<Stream, TlsStream>;

  template <class... Args>
  Connection(HttpServer::Impl& server, std::string remote, Args&&... args)
      : server_(server),
        stream_(std::forward<Args>(args)...),
        executor_(stream_.get_executor()),
        remote_(std::move(remote)) {}
  ~Connection() override { server_.Forget(this); }

  void Begin() override {
    asio::dispatch(executor_, [self = Self()] { self->Handshake(); });
  }

  void Close() override {
    asio::post(executor_, [self = Self()] {
      self->closing = true;
      if (!self->busy) self->Tcp().close();
    });
  }

 private:
  std::shared_ptr<Connection> Self() {
    return std::static_pointer_cast<Connection>(shared_from_this());
  }
  beast::tcp_stream& Tcp() { return beast::get_lowest_layer(stream_); }
  const HttpLimits& limits() const { return server_.limits(); }

  void Handshake() {
    if (closing) return Tcp().close();
    if constexpr (kTls) {
      Tcp().expires_after(limits().tls_handshake_timeout);
      stream_.async_handshake(asio::ssl::stream_base::server,
                              [self = Self()](beast::error_code ec) {
                                if (!ec) self->ReadHead();
                              });
    } else {
      ReadHead();
    }
  }

  // A kept-alive connection waits up to the idle timeout for the first
  // byte of its next request; the head deadline starts with that byte.
  void AwaitRequest() {
    busy = false;
    idle_since = Now();
    if (closing) return Shutdown();
    if (buffer_.size() > 0) return ReadHead();
    Tcp().expires_after(limits().idle_timeout);
    stream_.async_read_some(buffer_.prepare(kReadSize),
                            [self = Self()](beast::error_code ec, size_t n) {
                              if (ec) return;
                              self->buffer_.commit(n);
                              self->ReadHead();
                            });
  }

  void ReadHead() {
    parser_.emplace();
    parser_->header_limit(static_cast<uint32_t>(limits().max_head_bytes));
    parser_->body_limit(limits().max_body_bytes);
    // One deadline for the whole head, and the body after it: a client
    // trickling bytes gains nothing.
    Tcp().expires_after(limits().head_timeout);
    http::async_read_header(stream_, buffer_, *parser_,
                            [self = Self()](beast::error_code ec, size_t) {
                              self->OnRead(ec, /*head=*/true);
                            });
  }

  void OnRead(beast::error_code ec, bool head) {
    if (ec == http::error::header_limit) {
      return Refuse(431, "Request header fields too large\n");
    }
    if (ec == http::error::body_limit) {
      return Refuse(413, "Payload too large\n");
    }
    if (ec) {
      if (IsBadRequest(ec)) Refuse(400, "Bad request\n");
      return;
    }
    if (head && !parser_->is_done()) {
      http::async_read(stream_, buffer_, *parser_,
                       [self = Self()](beast::error_code e, size_t) {
                         self->OnRead(e, /*head=*/false);
                       });
      return;
    }
    Dispatch();
  }

  void Dispatch() {
    busy = true;
    const auto& req = parser_->get();
    WebRequest request;
    request.method = std::string(View(req.method_string()));
    const std::string_view target = View(req.target());
    request.path = std::string(target.substr(0, target.find('?')));
    request.remote_addr = remote_;
    for (const auto& field : req) {
      request.headers.emplace_back(std::string(View(field.name_string())),
                                   std::string(View(field.value())));
    }
    keep_alive_ = req.keep_alive();
    version_ = req.version() == 10 ? 10 : 11;
    head_only_ = req.method() == http::verb::head;
    Tcp().expires_never();
    asio::post(server_.pool(), [self = Self(), request = std::move(request)] {
      WebResponse res = self->server_.Handle(request);
      asio::post(self->executor_, [self, res = std::move(res)]() mutable {
        self->Write(std::move(res));
      });
    });
  }

  void Write(WebResponse res) {
    if (closing) keep_alive_ = false;
    size_t length = 0;
    for (const auto& chunk : res.body) length += chunk ? chunk->size() : 0;
    head_ = Head(res, version_, keep_alive_, length, limits().idle_timeout);
    out_.clear();
    out_.push_back(asio::buffer(head_));
    if (!head_only_) {
      for (const auto& chunk : res.body) {
        if (chunk && !chunk->empty()) out_.push_back(asio::buffer(*chunk));
      }
    }
    response_ = std::move(res);
    Tcp().expires_after(limits().write_timeout);
    asio::async_write(stream_, out_,
                      [self = Self()](beast::error_code ec, size_t) {
                        self->response_ = {};
                        if (ec) return;
                        if (self->keep_alive_) return self->AwaitRequest();
                        self->Shutdown();
                      });
  }

  // Answers with an error and closes, reading what the client still sends
  // for a while so that it gets to read the answer.
  void Refuse(int status, const char* text) {
    busy = true;
    keep_alive_ = false;
    head_only_ = false;
    version_ = 11;
    head_ = Head(Text(status, text), version_, false, std::strlen(text),
                 limits().idle_timeout);
    body_ = text;
    out_ = {asio::buffer(head_), asio::buffer(body_)};
    Tcp().expires_after(limits().write_timeout);
    asio::async_write(
        stream_, out_, [self = Self()](beast::error_code ec, size_t) {
          if (ec) return;
          beast::error_code ignored;
          self->Tcp().socket().shutdown(tcp::socket::shutdown_send, ignored);
          self->Tcp().expires_after(kLingerTime);
          self->Linger();
        });
  }

  void Linger() {
    if (lingered_ >= kLingerBytes) return Tcp().close();
    buffer_.clear();
    stream_.async_read_some(buffer_.prepare(kReadSize),
                            [self = Self()](beast::error_code ec, size_t n) {
                              if (ec) return;
                              self->lingered_ += n;
                              self->Linger();
                            });
  }

  void Shutdown() {
    beast::error_code ignored;
    Tcp().socket().shutdown(tcp::socket::shutdown_send, ignored);
    Tcp().close();
  }

  HttpServer::Impl& server_;
  Stream stream_;
  const asio::any_io_executor executor_;
  const std::string remote_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  bool keep_alive_ = false;
  unsigned version_ = 11;
  bool head_only_ = false;
  std::string head_;
  std::string body_;
  WebResponse response_;  // kept alive while written
  std::vector<asio::const_buffer> out_;
  size_t lingered_ = 0;
};

}  // namespace

void HttpServer::Impl::Start(const std::string& host, int port,
                             const std::string& address) {
  if (io_) return;
  auto fail = [&](const std::string& why) {
    acceptor_.reset();
    io_.reset();
    throw std::runtime_error("cannot listen on " + address + ": " + why);
  };
  io_ = std::make_unique<asio::io_context>(kIoThreads);
  beast::error_code ec;
  tcp::resolver resolver(*io_);
  const auto results = resolver.resolve(
      host, std::to_string(port),
      tcp::resolver::passive | tcp::resolver::numeric_service, ec);
  if (ec || results.empty()) fail("cannot resolve the host");
  const tcp::endpoint endpoint = results.begin()->endpoint();
  acceptor_ = std::make_unique<tcp::acceptor>(*io_);
  // SO_REUSEADDR, not SO_REUSEPORT: a restart may bind while old
  // connections linger in TIME_WAIT, but a second exporter cannot bind the
  // same port and silently take half of the scrapes.
  if (acceptor_->open(endpoint.protocol(), ec)) fail(ec.message());
  acceptor_->set_option(tcp::acceptor::reuse_address(true), ec);
  if (acceptor_->bind(endpoint, ec)) fail(ec.message());
  if (acceptor_->listen(asio::socket_base::max_listen_connections, ec)) {
    fail(ec.message());
  }
  port_ = acceptor_->local_endpoint(ec).port();
  RaiseFdLimit(limits_.max_connections);
  if (tls_) {
    SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == nullptr || !tls_->SetUp(*ctx)) {
      SSL_CTX_free(ctx);
      fail("cannot set up TLS: OpenSSL failed");
    }
    ssl_ = std::make_unique<asio::ssl::context>(ctx);  // takes ownership
  }
  accept_retry_ = std::make_unique<asio::steady_timer>(*io_);
  pool_ = std::make_unique<asio::thread_pool>(kHandlerThreads);
  work_.emplace(io_->get_executor());
  Accept();
  for (int i = 0; i < kIoThreads; ++i)
    threads_.emplace_back([this] { RunIo(); });
}

void HttpServer::Impl::RunIo() {
  for (;;) {
    try {
      io_->run();
      return;
    } catch (const std::exception& e) {
      LogError("HTTP server I/O failed", {{"err", e.what()}});
    }
  }
}

// Everything at once: the I/O threads end, the handler pool finishes the
// handlers under way, and destroying the I/O context destroys every
// connection with its socket.
void HttpServer::Impl::Stop() {
  if (!io_) return;
  work_.reset();
  io_->stop();
  for (std::thread& thread : threads_) thread.join();
  threads_.clear();
  pool_.reset();
  accept_retry_.reset();
  acceptor_.reset();
  io_.reset();
  ssl_.reset();
}

void HttpServer::Impl::Accept() {
  acceptor_->async_accept(
      asio::make_strand(*io_), [this](beast::error_code ec, tcp::socket s) {
        if (ec == asio::error::operation_aborted) return;
        if (!ec) {
          OnAccept(std::move(s));
          return Accept();
        }
        const auto now = Clock::now();
        if (!last_accept_log_ || now - *last_accept_log_ > kAcceptLogPeriod) {
          last_accept_log_ = now;
          LogWarn("cannot accept a connection", {{"err", ec.message()}});
        }
        accept_retry_->expires_after(kAcceptRetry);
        accept_retry_->async_wait([this](beast::error_code e) {
          if (!e) Accept();
        });
      });
}

void HttpServer::Impl::OnAccept(tcp::socket socket) {
  beast::error_code ec;
  // Without it the end of every answer waits for the client's delayed ACK
  // (Nagle): about 40 ms per scrape.
  socket.set_option(tcp::no_delay(true), ec);
  const tcp::endpoint peer = socket.remote_endpoint(ec);
  std::string remote =
      ec ? std::string("unknown")
         : peer.address().to_string() + ":" + std::to_string(peer.port());
  std::shared_ptr<ConnectionBase> connection;
  if (ssl_) {
    connection = std::make_shared<Connection<TlsStream>>(
        *this, std::move(remote), std::move(socket), *ssl_);
  } else {
    connection = std::make_shared<Connection<PlainStream>>(
        *this, std::move(remote), std::move(socket));
  }
  if (Admit(connection)) connection->Begin();
}

// At the cap, the connection idle the longest makes room; when every one
// is being answered, the new one is closed instead.
bool HttpServer::Impl::Admit(const std::shared_ptr<ConnectionBase>& c) {
  // Released after mu_: the last reference runs the destructor, which
  // takes mu_ to forget the connection.
  std::shared_ptr<ConnectionBase> evict;
  std::lock_guard<std::mutex> lock(mu_);
  size_t open = 0;
  ConnectionBase* oldest = nullptr;
  for (ConnectionBase* other : connections_) {
    if (other->closing) continue;
    ++open;
    if (!other->busy &&
        (oldest == nullptr || other->idle_since < oldest->idle_since)) {
      oldest = other;
    }
  }
  if (open >= limits_.max_connections) {
    if (oldest == nullptr) return false;
    oldest->closing = true;
    // Null only while its destructor waits for mu_ to forget it.
    evict = oldest->weak_from_this().lock();
    if (evict) evict->Close();
  }
  c->where = connections_.insert(connections_.end(), c.get());
  c->registered = true;
  return true;
}

void HttpServer::Impl::Forget(ConnectionBase* c) {
  std::lock_guard<std::mutex> lock(mu_);
  if (c->registered) connections_.erase(c->where);
}

void HttpServer::Impl::CloseConnections() {
  std::vector<std::shared_ptr<ConnectionBase>> open;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (ConnectionBase* c : connections_) {
      if (std::shared_ptr<ConnectionBase> p = c->weak_from_this().lock()) {
        open.push_back(std::move(p));
      }
    }
  }
  // Outside mu_, for the same reason as in Admit.
  for (const auto& c : open) c->Close();
}

WebResponse HttpServer::Impl::Handle(const WebRequest& request) const {
  try {
    return handler_(request);
  } catch (const std::exception& e) {
    LogError("HTTP handler failed",
             {{"path", request.path}, {"err", e.what()}});
  } catch (...) {
    LogError("HTTP handler failed",
             {{"path", request.path}, {"err", "unknown exception"}});
  }
  return Text(500, "Internal server error\n");
}

HttpServer::HttpServer(HttpLimits limits, HttpHandler handler,
                       TlsServerContext* tls)
    : impl_(std::make_unique<Impl>(limits, std::move(handler), tls)) {}

HttpServer::~HttpServer() = default;

void HttpServer::Start(const std::string& host, int port,
                       const std::string& address) {
  impl_->Start(host, port, address);
}

void HttpServer::Stop() { impl_->Stop(); }

int HttpServer::port() const { return impl_->port(); }

void HttpServer::CloseConnections() { impl_->CloseConnections(); }

size_t HttpServer::connections() const { return impl_->connections(); }

}  // namespace cloudaware_exporter
