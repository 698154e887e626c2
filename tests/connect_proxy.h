// A minimal HTTP CONNECT proxy on loopback for tests: it tunnels TLS to the
// requested host and remembers the CONNECT targets it was asked for.
#ifndef CLOUDAWARE_EXPORTER_TESTS_CONNECT_PROXY_H_
#define CLOUDAWARE_EXPORTER_TESTS_CONNECT_PROXY_H_

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "process_util.h"

namespace test_util {

class ConnectProxy {
 public:
  ConnectProxy() {
    std::tie(listener_, port_) = BindLoopback();
    listen(listener_, 16);
    accept_thread_ = std::thread([this] { AcceptLoop(); });
  }
  ~ConnectProxy() {
    stopping_ = true;
    shutdown(listener_, SHUT_RDWR);
    close(listener_);
    accept_thread_.join();
    for (auto& t : tunnels_) t.join();
  }
  int port() const { return port_; }
  std::vector<std::string> targets() {
    std::lock_guard<std::mutex> lock(mu_);
    return targets_;
  }

 private:
  void AcceptLoop() {
    while (!stopping_) {
      int client = accept(listener_, nullptr, nullptr);
      if (client < 0) return;
      std::lock_guard<std::mutex> lock(mu_);
      tunnels_.emplace_back([this, client] { Tunnel(client); });
    }
  }

  void Tunnel(int client) {
    std::string head;
    char c;
    while (head.find("\r\n\r\n") == std::string::npos && head.size() < 8192 &&
           read(client, &c, 1) == 1) {
      head += c;
    }
    // "CONNECT host:port HTTP/1.1"
    std::string target = head.substr(8, head.find(' ', 8) - 8);
    {
      std::lock_guard<std::mutex> lock(mu_);
      targets_.push_back(target);
    }
    size_t colon = target.rfind(':');
    addrinfo hints{}, *res = nullptr;
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    int upstream = -1;
    if (head.rfind("CONNECT ", 0) == 0 && colon != std::string::npos &&
        getaddrinfo(target.substr(0, colon).c_str(),
                    target.substr(colon + 1).c_str(), &hints, &res) == 0) {
      upstream = socket(AF_INET, SOCK_STREAM, 0);
      if (connect(upstream, res->ai_addr, res->ai_addrlen) != 0) {
        close(upstream);
        upstream = -1;
      }
      freeaddrinfo(res);
    }
    if (upstream < 0) {
      const char kBad[] =
          "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n";
      (void)!write(client, kBad, sizeof kBad - 1);
      close(client);
      return;
    }
    const char kOk[] = "HTTP/1.1 200 Connection established\r\n\r\n";
    (void)!write(client, kOk, sizeof kOk - 1);
    pollfd fds[2] = {{client, POLLIN, 0}, {upstream, POLLIN, 0}};
    char buf[16384];
    while (!stopping_ && poll(fds, 2, 200) >= 0) {
      bool closed = false;
      for (int i = 0; i < 2 && !closed; ++i) {
        if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        ssize_t n = read(fds[i].fd, buf, sizeof buf);
        closed =
            n <= 0 || write(fds[1 - i].fd, buf, static_cast<size_t>(n)) != n;
      }
      if (closed) break;
    }
    close(upstream);
    close(client);
  }

  int listener_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread accept_thread_;
  std::mutex mu_;
  std::vector<std::thread> tunnels_;
  std::vector<std::string> targets_;
};

}  // namespace test_util

#endif  // CLOUDAWARE_EXPORTER_TESTS_CONNECT_PROXY_H_
