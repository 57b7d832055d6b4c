#include "connectors/http/http_server.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <vector>

namespace fraud {

using Clock = std::chrono::steady_clock;

struct HttpServer::Connection {
  int fd = -1;
  Clock::time_point deadline;
  std::string in;
  std::string out;
  std::size_t sent = 0;
  bool responding = false;
};

HttpServer::HttpServer(int port, std::map<std::string, Handler> routes, Limits limits)
    : routes_(std::move(routes)), limits_(limits) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  int one = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_ANY);
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(listen_fd_, 128) != 0) {
    std::string err = std::strerror(errno);
    ::close(listen_fd_);
    throw std::runtime_error("cannot listen on port " + std::to_string(port) + ": " + err);
  }
  socklen_t len = sizeof addr;
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  thread_ = std::thread([this] { serve(); });
}

HttpServer::~HttpServer() {
  stop_.store(true);
  if (thread_.joinable()) thread_.join();
  ::close(listen_fd_);
}

void HttpServer::serve() {
  std::vector<Connection> conns;
  std::vector<pollfd> fds;
  auto close_at = [&](std::size_t i, bool dropped) {
    ::close(conns[i].fd);
    if (dropped) dropped_.fetch_add(1);
    conns.erase(conns.begin() + static_cast<std::ptrdiff_t>(i));
  };
  while (!stop_.load()) {
    fds.clear();
    fds.push_back({listen_fd_, POLLIN, 0});
    for (const auto& c : conns) fds.push_back({c.fd, static_cast<short>(c.responding ? POLLOUT : POLLIN), 0});
    ::poll(fds.data(), fds.size(), 100);
    auto now = Clock::now();
    // Existing connections first (indices match fds[1..]), back to front so
    // closing one does not shift the ones still to visit.
    for (std::size_t i = conns.size(); i-- > 0;) {
      Connection& c = conns[i];
      short ev = fds[i + 1].revents;
      if (!c.responding && (ev & (POLLIN | POLLHUP | POLLERR))) {
        char buf[4096];
        ssize_t n = ::recv(c.fd, buf, sizeof buf, 0);
        if (n <= 0) {
          if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
            close_at(i, false);
            continue;
          }
        } else {
          c.in.append(buf, static_cast<std::size_t>(n));
          if (c.in.find("\r\n\r\n") != std::string::npos || c.in.size() >= kMaxRequestBytes) {
            c.out = respond(c.in);
            c.in.clear();
            c.responding = true;
            c.deadline = now + limits_.response_timeout;
          }
        }
      }
      if (c.responding && c.sent < c.out.size()) {
        ssize_t n = ::send(c.fd, c.out.data() + c.sent, c.out.size() - c.sent, MSG_NOSIGNAL);
        if (n > 0) {
          c.sent += static_cast<std::size_t>(n);
        } else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
          close_at(i, false);
          continue;
        }
      }
      if (c.responding && c.sent == c.out.size()) {
        close_at(i, false);
      } else if (now > c.deadline) {
        close_at(i, true);
      }
    }
    if (!(fds[0].revents & POLLIN)) continue;
    while (true) {
      int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
      if (fd < 0) break;
      if (conns.size() >= limits_.max_connections) {
        // Evict the oldest connection still sending its request, else refuse.
        auto oldest = std::find_if(conns.begin(), conns.end(), [](const Connection& c) { return !c.responding; });
        if (oldest == conns.end()) {
          ::close(fd);
          dropped_.fetch_add(1);
          continue;
        }
        close_at(static_cast<std::size_t>(oldest - conns.begin()), true);
      }
      conns.push_back(Connection{fd, now + limits_.request_timeout, {}, {}, 0, false});
    }
  }
  for (auto& c : conns) ::close(c.fd);
}

std::string HttpServer::respond(const std::string& req) const {
  HttpResponse resp;
  auto sp1 = req.find(' ');
  auto sp2 = sp1 == std::string::npos ? sp1 : req.find(' ', sp1 + 1);
  auto eol = req.find("\r\n");
  bool head = false;
  if (sp2 == std::string::npos || (eol != std::string::npos && sp2 > eol)) {
    resp = {400, "text/plain", "bad request\n"};
  } else {
    std::string method = req.substr(0, sp1);
    std::string path = req.substr(sp1 + 1, sp2 - sp1 - 1);
    auto q = path.find('?');
    if (q != std::string::npos) path.resize(q);
    auto it = routes_.find(path);
    if (method != "GET" && method != "HEAD") {
      resp = {405, "text/plain", "method not allowed\n"};
    } else if (it == routes_.end()) {
      resp = {404, "text/plain", "not found; try /metrics /healthz /readyz /rules\n"};
    } else {
      resp = it->second();
    }
    head = method == "HEAD";
  }
  const char* reason = resp.status == 200   ? "OK"
                       : resp.status == 503 ? "Service Unavailable"
                       : resp.status == 404 ? "Not Found"
                       : resp.status == 405 ? "Method Not Allowed"
                       : resp.status == 400 ? "Bad Request"
                                            : "Error";
  std::string out = "HTTP/1.1 " + std::to_string(resp.status) + " " + reason +
                    "\r\nContent-Type: " + resp.content_type +
                    "\r\nContent-Length: " + std::to_string(resp.body.size()) + "\r\nConnection: close\r\n\r\n";
  if (!head) out += resp.body;
  return out;
}

}  // namespace fraud
