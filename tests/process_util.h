// Helpers for tests that run programs: the exporter binary, Prometheus.
#ifndef CLOUDAWARE_EXPORTER_TESTS_PROCESS_UTIL_H_
#define CLOUDAWARE_EXPORTER_TESTS_PROCESS_UTIL_H_

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

extern char** environ;

namespace test_util {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

inline std::string ReadFile(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline void WriteFile(const fs::path& p, const std::string& text) {
  std::ofstream(p) << text;
}

// A child process with stdout and stderr captured to files in dir, named
// <name>stdout and <name>stderr. Killed on destruction if still running.
class Process {
 public:
  Process(const std::vector<std::string>& args, const fs::path& dir,
          const std::string& name = "")
      : dir_(dir), name_(name) {
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1,
                                     (dir / (name + "stdout")).c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&actions, 2,
                                     (dir / (name + "stderr")).c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    int rc =
        posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) pid_ = -1;
  }
  ~Process() {
    if (pid_ > 0 && !exit_code_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  // The exit code, or nullopt if it did not exit within the timeout.
  std::optional<int> Wait(std::chrono::milliseconds timeout) {
    auto deadline = Clock::now() + timeout;
    while (!exit_code_ && Clock::now() < deadline) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        exit_code_ =
            WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return exit_code_;
  }
  void Signal(int sig) { kill(pid_, sig); }
  std::string out() const { return ReadFile(dir_ / (name_ + "stdout")); }
  std::string err() const { return ReadFile(dir_ / (name_ + "stderr")); }

 private:
  fs::path dir_;
  std::string name_;
  pid_t pid_ = -1;
  std::optional<int> exit_code_;
};

// A TCP socket bound to a free port on 127.0.0.1: {fd, port}.
inline std::pair<int, int> BindLoopback() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  return {fd, ntohs(addr.sin_port)};
}

// A port that was free a moment ago, for a program that must bind it itself.
inline int FreePort() {
  auto [fd, port] = BindLoopback();
  close(fd);
  return port;
}

}  // namespace test_util

#endif  // CLOUDAWARE_EXPORTER_TESTS_PROCESS_UTIL_H_
