// HttpServer: the engine's small operational HTTP endpoint (/metrics,
// /healthz, /readyz, /rules). HTTP/1.0-style: one request per connection,
// GET and HEAD only - scrapes and probes, not user traffic.
//
// Hostile clients cost bounded memory and time and never delay a probe:
//  - one thread multiplexes every connection with poll(2) on non-blocking
//    sockets, so a slow client (a byte every second) holds only its own
//    connection;
//  - a request must arrive whole (headers, at most kMaxRequestBytes) within
//    Limits::request_timeout of the accept, and the answer must be taken
//    within Limits::response_timeout, or the connection is closed;
//  - at most Limits::max_connections are open; a new one beyond that evicts
//    the oldest connection still sending its request (idle floods cannot
//    lock probes out);
//  - writes use MSG_NOSIGNAL: a client that resets never raises SIGPIPE.
//
// Thread safety: handlers run on the server thread; they must only read
// thread-safe state. The server stops (and joins) in its destructor.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <string>
#include <thread>

namespace fraud {

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

class HttpServer {
 public:
  using Handler = std::function<HttpResponse()>;
  static constexpr std::size_t kMaxRequestBytes = 16 * 1024;

  struct Limits {
    std::size_t max_connections = 256;
    std::chrono::milliseconds request_timeout{5000};
    std::chrono::milliseconds response_timeout{10000};
  };

  // Binds 0.0.0.0:port (port 0: an ephemeral port, see port()). Throws
  // std::runtime_error if the port cannot be bound (startup only).
  HttpServer(int port, std::map<std::string, Handler> routes, Limits limits);
  HttpServer(int port, std::map<std::string, Handler> routes) : HttpServer(port, std::move(routes), Limits{}) {}
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  int port() const { return port_; }
  // Connections closed because they were too slow or evicted (tests).
  std::size_t dropped_connections() const { return dropped_.load(); }

 private:
  struct Connection;
  void serve();
  std::string respond(const std::string& request) const;

  std::map<std::string, Handler> routes_;
  Limits limits_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<std::size_t> dropped_{0};
  std::thread thread_;
};

}  // namespace fraud
