// HttpServer: the engine's small operational HTTP endpoint (/metrics,
// /healthz, /readyz, /rules). HTTP/1.0-style: one request per connection,
// GET only, handled on one thread - scrapes and probes, not user traffic.
//
// Thread safety: handlers run on the server thread; they must only read
// thread-safe state. The server stops (and joins) in its destructor.
#pragma once

#include <atomic>
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

  // Binds 0.0.0.0:port (port 0: an ephemeral port, see port()). Throws
  // std::runtime_error if the port cannot be bound (startup only).
  explicit HttpServer(int port, std::map<std::string, Handler> routes);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  int port() const { return port_; }

 private:
  void serve();
  void handle(int fd);

  std::map<std::string, Handler> routes_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace fraud
