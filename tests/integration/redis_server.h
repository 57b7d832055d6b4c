// A real redis-server for integration tests: started on a free loopback
// port with no persistence, optionally with an ACL user, stopped (SIGTERM)
// when the object dies. Requires the Debian redis-server package.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace fraud::testing {

inline int free_tcp_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  int port = ntohs(addr.sin_port);
  ::close(fd);
  return port;
}

// Connects to (or, with `bind`, binds) 127.0.0.1:port; true on success.
inline bool loopback_port(int port, bool bind) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  auto* a = reinterpret_cast<sockaddr*>(&addr);
  bool ok = (bind ? ::bind(fd, a, sizeof addr) : ::connect(fd, a, sizeof addr)) == 0;
  ::close(fd);
  return ok;
}

inline bool port_open(int port) { return loopback_port(port, false); }

class RedisServer {
 public:
  // `acl_user`/`acl_password`: adds that user (all commands) and disables
  // the default user, so AUTH is required.
  // `extra`: more redis-server arguments (cluster mode...).
  explicit RedisServer(std::string acl_user = {}, std::string acl_password = {}, int port = 0,
                       std::string data_dir = {}, std::vector<std::string> extra = {})
      : port_(port ? port : free_tcp_port()) {
    std::vector<std::string> args = {"redis-server", "--port", std::to_string(port_), "--bind", "127.0.0.1",
                                     "--save",       "",       "--loglevel",          "warning"};
    if (data_dir.empty()) {
      args.insert(args.end(), {"--appendonly", "no"});
    } else {  // durable: survives a restart on the same port and directory
      args.insert(args.end(), {"--appendonly", "yes", "--appendfsync", "always", "--dir", data_dir});
    }
    if (!acl_user.empty()) {
      args.insert(args.end(),
                  {"--user", acl_user, "on", ">" + acl_password, "~*", "&*", "+@all", "--user", "default", "off"});
    }
    args.insert(args.end(), extra.begin(), extra.end());
    pid_ = ::fork();
    if (pid_ == 0) {
      int devnull = ::open("/dev/null", O_WRONLY);
      ::dup2(devnull, STDOUT_FILENO);
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execvp("redis-server", argv.data());
      ::_exit(127);
    }
    for (int i = 0; i < 200 && !port_open(port_); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(25));
    if (!port_open(port_))
      throw std::runtime_error("redis-server did not start (is the redis-server package installed?)");
  }
  ~RedisServer() { stop(); }
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  void stop() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      int status = 0;
      ::waitpid(pid_, &status, 0);
      pid_ = -1;
    }
  }
  // SIGKILL: a crash, no shutdown.
  void kill() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
  }
  int port() const { return port_; }
  pid_t pid() const { return pid_; }

 private:
  int port_;
  pid_t pid_ = -1;
};

}  // namespace fraud::testing
