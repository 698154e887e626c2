// The bounds of the web server's connections: hostile clients (idle,
// half-open, trickling, plain and TLS) never delay a scrape; the head
// deadline and the idle timeout close what they should; the connection cap
// evicts idle connections, never a request being answered; Stop closes
// everything at once. Every wait is bounded in count and time.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "exporter/web/web.h"

namespace cloudaware_exporter {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

const std::string& Body() {
  static const std::string body =
      "# TYPE a gauge\na 1\n" + std::string(100 * 1024, '#') + "\nb 2\n";
  return body;
}

// Hundreds of sockets on both ends exceed a soft limit of 1024.
void RaiseFdLimit() {
  rlimit limit{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &limit), 0);
  limit.rlim_cur = limit.rlim_max;
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &limit), 0);
  ASSERT_GE(limit.rlim_cur, 2048u) << "too few file descriptors allowed";
}

// A loopback client socket; -1 when the connection fails.
int Connect(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  timeval timeout{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

bool SendAll(int fd, const std::string& data) {
  return ::send(fd, data.data(), data.size(), MSG_NOSIGNAL) ==
         static_cast<ssize_t>(data.size());
}

// True once the server closed the connection (end of stream or reset)
// within `timeout`; bytes it sends first are read and dropped.
bool ClosedWithin(int fd, milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  char buf[4096];
  for (int i = 0; i < 10000; ++i) {
    const auto left =
        std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
    const ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno == ECONNRESET)) return true;
  }
  return false;
}

// One answer read off a raw socket: the head, and a body of its
// Content-Length. Empty when none came within 5 s.
std::string ReadAnswer(int fd) {
  std::string in;
  char buf[16384];
  for (int i = 0; i < 1000; ++i) {
    const size_t end = in.find("\r\n\r\n");
    if (end != std::string::npos) {
      const size_t cl = in.find("Content-Length: ");
      const size_t length =
          cl == std::string::npos ? 0 : std::stoul(in.substr(cl + 16));
      if (in.size() >= end + 4 + length) return in.substr(0, end + 4 + length);
    }
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return "";
    in.append(buf, static_cast<size_t>(n));
  }
  return "";
}

struct Fds {
  std::vector<int> fds;
  ~Fds() {
    for (int fd : fds) ::close(fd);
  }
};

// A client TLS connection made with blocking OpenSSL calls.
struct TlsClient {
  explicit TlsClient(SSL_CTX* ctx, int port) : fd(Connect(port)) {
    if (fd < 0) return;
    ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    if (SSL_connect(ssl) != 1) {
      SSL_free(ssl);
      ssl = nullptr;
    }
  }
  ~TlsClient() {
    if (ssl) SSL_free(ssl);
    if (fd >= 0) ::close(fd);
  }
  bool Send(const std::string& data) {
    return ssl && SSL_write(ssl, data.data(), static_cast<int>(data.size())) ==
                      static_cast<int>(data.size());
  }
  int fd = -1;
  SSL* ssl = nullptr;
};

class WebBoundsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = new fs::path(fs::temp_directory_path() /
                         ("web-bounds-" + std::to_string(::getpid())));
    const std::string command =
        std::string(GEN_CERTS_SCRIPT) + " " + (*root_ / "certs").string();
    ASSERT_EQ(std::system(command.c_str()), 0) << command;
    std::ofstream(*root_ / "web.yml")
        << "tls_server_config:\n  cert_file: "
        << (*root_ / "certs/server.pem").string()
        << "\n  key_file: " << (*root_ / "certs/server.key").string() << "\n";
  }
  static void TearDownTestSuite() {
    fs::remove_all(*root_);
    delete root_;
  }

  void SetUp() override {
    RaiseFdLimit();
    client_ctx_ = SSL_CTX_new(TLS_client_method());
    ASSERT_NE(client_ctx_, nullptr);
    SSL_CTX_set_verify(client_ctx_, SSL_VERIFY_NONE, nullptr);
  }
  void TearDown() override {
    Release();
    server_.reset();
    SSL_CTX_free(client_ctx_);
  }

  // A server whose /metrics answers Body(); with `hold`, each scrape
  // waits until Release().
  void Start(HttpLimits limits, bool tls, bool hold = false,
             const std::string& web_config = "") {
    WebOptions options;
    options.listen_address = "127.0.0.1:0";
    options.limits = limits;
    if (tls) options.web_config = LoadWebConfig((*root_ / "web.yml").string());
    if (!web_config.empty()) options.web_config = LoadWebConfig(web_config);
    WebHandlers handlers;
    handlers.metrics = [this, hold](bool) {
      if (hold) {
        std::unique_lock<std::mutex> lock(mu_);
        ++held_;
        cv_.notify_all();
        cv_.wait_for(lock, std::chrono::seconds(10), [&] { return release_; });
      }
      return std::vector<std::shared_ptr<const std::string>>{
          std::make_shared<const std::string>(Body())};
    };
    handlers.landing_page = [] { return std::string("landing"); };
    handlers.ready = [] { return true; };
    server_ = std::make_unique<WebServer>(options, handlers);
    server_->Start();
    tls_ = tls;
  }

  void Release() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      release_ = true;
    }
    cv_.notify_all();
  }

  bool WaitHeld(int n) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(5),
                        [&] { return held_ >= n; });
  }

  // Until the server counts `n` connections, for at most 5 s.
  bool WaitConnections(size_t n) {
    for (int i = 0; i < 500 && server_->connections() != n; ++i) {
      std::this_thread::sleep_for(milliseconds(10));
    }
    return server_->connections() == n;
  }

  // A scrape that must be answered, in full, within one second.
  void ExpectPromptScrape() {
    if (tls_) {
      httplib::SSLClient client("127.0.0.1", port());
      client.enable_server_certificate_verification(false);
      ExpectPromptScrape(client);
    } else {
      httplib::Client client("127.0.0.1", port());
      ExpectPromptScrape(client);
    }
  }

  template <class Client>
  static void ExpectPromptScrape(Client& client) {
    client.set_connection_timeout(1);
    client.set_read_timeout(1);
    client.set_write_timeout(1);
    const auto start = Clock::now();
    auto res = client.Get("/metrics");
    const auto elapsed = Clock::now() - start;
    ASSERT_TRUE(res) << httplib::to_string(res.error());
    EXPECT_EQ(res->status, 200);
    EXPECT_EQ(res->body, Body());
    EXPECT_LT(elapsed, std::chrono::seconds(1));
  }

  int port() const { return server_->port(); }

  static fs::path* root_;
  SSL_CTX* client_ctx_ = nullptr;
  std::unique_ptr<WebServer> server_;
  bool tls_ = false;
  std::mutex mu_;
  std::condition_variable cv_;
  int held_ = 0;          // guarded by mu_
  bool release_ = false;  // guarded by mu_
};

fs::path* WebBoundsTest::root_ = nullptr;

constexpr int kEach = 200;
const char kPartialHead[] = "GET /metrics HTTP/1.1\r\nHost: localhost\r\n";

TEST_F(WebBoundsTest, HostilePlainConnectionsDoNotDelayAScrape) {
  Start(HttpLimits{}, /*tls=*/false);
  Fds idle, half_open, trickling;
  for (int i = 0; i < kEach; ++i) {
    idle.fds.push_back(Connect(port()));
    half_open.fds.push_back(Connect(port()));
    trickling.fds.push_back(Connect(port()));
    ASSERT_GE(idle.fds.back(), 0);
    ASSERT_TRUE(SendAll(half_open.fds.back(), kPartialHead));
    ASSERT_TRUE(SendAll(trickling.fds.back(), kPartialHead));
  }
  std::atomic<bool> stop{false};
  // One byte a round to each trickling connection, a header that never
  // ends.
  std::thread trickle([&] {
    for (int round = 0; round < 100 && !stop; ++round) {
      for (int fd : trickling.fds) SendAll(fd, "X");
      std::this_thread::sleep_for(milliseconds(50));
    }
  });
  ASSERT_TRUE(WaitConnections(3 * kEach));
  for (int i = 0; i < 3; ++i) ExpectPromptScrape();
  // The scrapes' own connections close; every held one stays.
  EXPECT_TRUE(WaitConnections(3 * kEach));
  stop = true;
  trickle.join();
}

TEST_F(WebBoundsTest, HostileTlsConnectionsDoNotDelayAScrape) {
  Start(HttpLimits{}, /*tls=*/true);
  // Idle: TCP only, no ClientHello. Half-open and trickling: after the
  // handshake.
  Fds idle;
  std::vector<std::unique_ptr<TlsClient>> half_open, trickling;
  for (int i = 0; i < kEach; ++i) {
    idle.fds.push_back(Connect(port()));
    ASSERT_GE(idle.fds.back(), 0);
    half_open.push_back(std::make_unique<TlsClient>(client_ctx_, port()));
    trickling.push_back(std::make_unique<TlsClient>(client_ctx_, port()));
    ASSERT_TRUE(half_open.back()->Send(kPartialHead));
    ASSERT_TRUE(trickling.back()->Send(kPartialHead));
  }
  std::atomic<bool> stop{false};
  std::thread trickle([&] {
    for (int round = 0; round < 100 && !stop; ++round) {
      for (auto& c : trickling) c->Send("X");
      std::this_thread::sleep_for(milliseconds(50));
    }
  });
  ASSERT_TRUE(WaitConnections(3 * kEach));
  for (int i = 0; i < 3; ++i) ExpectPromptScrape();
  // The scrapes' own connections close; every held one stays.
  EXPECT_TRUE(WaitConnections(3 * kEach));
  stop = true;
  trickle.join();
}

// The deadline covers the whole head: a byte every 50 ms does not extend
// it, and a connection that sent nothing is closed at the same time.
TEST_F(WebBoundsTest, TheHeadDeadlineClosesHalfOpenAndTricklingConnections) {
  HttpLimits limits;
  limits.head_timeout = milliseconds(500);
  Start(limits, /*tls=*/false);
  const auto start = Clock::now();
  Fds fds;
  const int silent = Connect(port());
  const int half_open = Connect(port());
  const int trickling = Connect(port());
  fds.fds = {silent, half_open, trickling};
  ASSERT_TRUE(SendAll(half_open, kPartialHead));
  ASSERT_TRUE(SendAll(trickling, kPartialHead));
  bool trickle_closed = false;
  for (int i = 0; i < 60 && !trickle_closed; ++i) {  // at most 3 s
    if (!SendAll(trickling, "X")) trickle_closed = true;
    if (ClosedWithin(trickling, milliseconds(50))) trickle_closed = true;
  }
  EXPECT_TRUE(trickle_closed) << "a trickling head outlived its deadline";
  EXPECT_GE(Clock::now() - start, milliseconds(400));
  EXPECT_TRUE(ClosedWithin(half_open, std::chrono::seconds(3)));
  EXPECT_TRUE(ClosedWithin(silent, std::chrono::seconds(3)));
  EXPECT_TRUE(WaitConnections(0));
  ExpectPromptScrape();
}

TEST_F(WebBoundsTest, TheTlsHandshakeDeadlineClosesASilentConnection) {
  HttpLimits limits;
  limits.tls_handshake_timeout = milliseconds(300);
  Start(limits, /*tls=*/true);
  Fds fds;
  fds.fds.push_back(Connect(port()));
  ASSERT_TRUE(SendAll(fds.fds[0], std::string("\x16\x03\x01", 3)));
  EXPECT_TRUE(ClosedWithin(fds.fds[0], std::chrono::seconds(3)));
  EXPECT_TRUE(WaitConnections(0));
}

TEST_F(WebBoundsTest, KeepAliveServesTheNextRequestAndEndsAfterIdling) {
  HttpLimits limits;
  limits.idle_timeout = milliseconds(500);
  Start(limits, /*tls=*/false);
  Fds fds;
  const int fd = Connect(port());
  fds.fds.push_back(fd);
  const std::string get = "GET /-/healthy HTTP/1.1\r\nHost: localhost\r\n\r\n";
  ASSERT_TRUE(SendAll(fd, get));
  std::string answer = ReadAnswer(fd);
  EXPECT_EQ(answer.rfind("HTTP/1.1 200", 0), 0u) << answer;
  EXPECT_NE(answer.find("Keep-Alive: timeout=1"), std::string::npos) << answer;
  ASSERT_TRUE(SendAll(fd, get));
  answer = ReadAnswer(fd);
  EXPECT_NE(answer.find("Healthy\n"), std::string::npos) << answer;
  EXPECT_FALSE(ClosedWithin(fd, milliseconds(200))) << "closed too early";
  EXPECT_TRUE(ClosedWithin(fd, std::chrono::seconds(3)));
}

TEST_F(WebBoundsTest, Http10ClosesUnlessAskedToKeepAlive) {
  Start(HttpLimits{}, /*tls=*/false);
  Fds fds;
  const int once = Connect(port());
  const int kept = Connect(port());
  fds.fds = {once, kept};
  ASSERT_TRUE(SendAll(once, "GET /-/healthy HTTP/1.0\r\n\r\n"));
  std::string answer = ReadAnswer(once);
  EXPECT_EQ(answer.rfind("HTTP/1.0 200", 0), 0u) << answer;
  EXPECT_NE(answer.find("Content-Length: 8\r\n"), std::string::npos);
  EXPECT_TRUE(ClosedWithin(once, std::chrono::seconds(3)));

  const std::string get =
      "GET /-/healthy HTTP/1.0\r\nConnection: keep-alive\r\n\r\n";
  ASSERT_TRUE(SendAll(kept, get));
  answer = ReadAnswer(kept);
  EXPECT_EQ(answer.rfind("HTTP/1.0 200", 0), 0u) << answer;
  EXPECT_NE(answer.find("Connection: keep-alive\r\n"), std::string::npos);
  ASSERT_TRUE(SendAll(kept, get));
  EXPECT_EQ(ReadAnswer(kept).rfind("HTTP/1.0 200", 0), 0u);
}

TEST_F(WebBoundsTest, AnOversizedHeadIsRefused) {
  HttpLimits limits;
  limits.max_head_bytes = 4096;
  Start(limits, /*tls=*/false);
  Fds fds;
  const int fd = Connect(port());
  fds.fds.push_back(fd);
  ASSERT_TRUE(SendAll(fd, std::string(kPartialHead) +
                              "X-Big: " + std::string(8192, 'a') + "\r\n\r\n"));
  const std::string answer = ReadAnswer(fd);
  EXPECT_EQ(answer.rfind("HTTP/1.1 431", 0), 0u) << answer;
  EXPECT_TRUE(ClosedWithin(fd, std::chrono::seconds(3)));
  ExpectPromptScrape();
}

// At the cap, the connection idle the longest is closed to admit a new
// one; a scrape being answered is never closed, and when every connection
// is being answered the new one is refused.
TEST_F(WebBoundsTest, TheCapEvictsTheOldestIdleConnectionNeverAScrape) {
  HttpLimits limits;
  limits.max_connections = 8;
  Start(limits, /*tls=*/false, /*hold=*/true);
  Fds fds;
  const int scrape = Connect(port());
  fds.fds.push_back(scrape);
  ASSERT_TRUE(SendAll(scrape, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_TRUE(WaitHeld(1));
  std::vector<int> idle;
  for (int i = 0; i < 7; ++i) {
    idle.push_back(Connect(port()));
    fds.fds.push_back(idle.back());
    ASSERT_TRUE(WaitConnections(2 + static_cast<size_t>(i)));
    std::this_thread::sleep_for(milliseconds(2));  // a strict idle order
  }
  for (int i = 0; i < 3; ++i) {
    fds.fds.push_back(Connect(port()));
    EXPECT_TRUE(ClosedWithin(idle[i], std::chrono::seconds(3))) << i;
    ASSERT_TRUE(WaitConnections(8));
  }
  for (int i = 3; i < 7; ++i) {
    EXPECT_FALSE(ClosedWithin(idle[i], milliseconds(50))) << i;
  }
  Release();
  const std::string answer = ReadAnswer(scrape);
  EXPECT_EQ(answer.rfind("HTTP/1.1 200", 0), 0u) << answer;
  EXPECT_EQ(answer.substr(answer.size() - Body().size()), Body());
}

TEST_F(WebBoundsTest, AtTheCapWithEveryConnectionBusyANewOneIsRefused) {
  HttpLimits limits;
  limits.max_connections = 2;
  Start(limits, /*tls=*/false, /*hold=*/true);
  Fds fds;
  for (int i = 0; i < 2; ++i) {
    fds.fds.push_back(Connect(port()));
    ASSERT_TRUE(SendAll(fds.fds.back(), "GET /metrics HTTP/1.1\r\n\r\n"));
  }
  ASSERT_TRUE(WaitHeld(2));
  const int third = Connect(port());
  fds.fds.push_back(third);
  EXPECT_TRUE(ClosedWithin(third, std::chrono::seconds(3)));
  Release();
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(ReadAnswer(fds.fds[i]).rfind("HTTP/1.1 200", 0), 0u) << i;
  }
}

// After a web config reload no kept-alive connection goes on under the old
// settings: an idle one is closed at once, one being answered after its
// answer.
TEST_F(WebBoundsTest, AWebConfigReloadClosesEveryConnection) {
  const std::string file = (*root_ / "headers.yml").string();
  std::ofstream(file)
      << "http_server_config:\n  headers:\n    X-Frame-Options: deny\n";
  Start(HttpLimits{}, /*tls=*/false, /*hold=*/true, file);
  Fds fds;
  const int idle = Connect(port());
  const int busy = Connect(port());
  fds.fds = {idle, busy};
  ASSERT_TRUE(SendAll(idle, "GET /-/healthy HTTP/1.1\r\n\r\n"));
  const std::string first = ReadAnswer(idle);
  ASSERT_NE(first.find("Keep-Alive: "), std::string::npos) << first;
  ASSERT_TRUE(SendAll(busy, "GET /metrics HTTP/1.1\r\n\r\n"));
  ASSERT_TRUE(WaitHeld(1));
  ASSERT_EQ(server_->ReloadWebConfig(), "");
  EXPECT_TRUE(ClosedWithin(idle, std::chrono::seconds(3)));
  Release();
  const std::string answer = ReadAnswer(busy);
  EXPECT_EQ(answer.rfind("HTTP/1.1 200", 0), 0u) << answer.substr(0, 200);
  EXPECT_NE(answer.find("Connection: close\r\n"), std::string::npos);
  EXPECT_TRUE(ClosedWithin(busy, std::chrono::seconds(3)));
}

TEST_F(WebBoundsTest, StopClosesEveryConnectionAtOnce) {
  Start(HttpLimits{}, /*tls=*/false);
  Fds fds;
  for (int i = 0; i < kEach; ++i) {
    const int fd = Connect(port());
    ASSERT_GE(fd, 0);
    fds.fds.push_back(fd);
    if (i % 3 == 1) {
      ASSERT_TRUE(SendAll(fd, kPartialHead));
    } else if (i % 3 == 2) {
      ASSERT_TRUE(SendAll(fd, "GET /-/healthy HTTP/1.1\r\n\r\n"));
      ASSERT_NE(ReadAnswer(fd), "");
    }
  }
  ASSERT_TRUE(WaitConnections(kEach));
  const auto start = Clock::now();
  server_->Stop();
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(2));
  for (int fd : fds.fds) {
    ASSERT_TRUE(ClosedWithin(fd, std::chrono::seconds(2)));
  }
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(2));
}

}  // namespace
}  // namespace cloudaware_exporter
