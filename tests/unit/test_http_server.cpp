// The ops HTTP server under hostile clients: slow senders, floods of idle
// connections and clients that reset must not delay a probe or kill the
// process. Plain sockets on loopback; no Kafka or Redis.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <thread>
#include <vector>

#include "connectors/http/http_server.h"

using namespace fraud;
using namespace std::chrono_literals;

namespace {

int connect_to(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// GET path; the whole response, or "" if none came within `timeout`.
std::string get(int port, const std::string& path, std::chrono::milliseconds timeout = 2000ms) {
  int fd = connect_to(port);
  if (fd < 0) return "";
  std::string req = "GET " + path + " HTTP/1.0\r\n\r\n";
  (void)!::send(fd, req.data(), req.size(), MSG_NOSIGNAL);
  std::string resp;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  char buf[4096];
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    resp.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return resp;
}

std::map<std::string, HttpServer::Handler> routes() {
  return {{"/healthz",
           [] {
             return HttpResponse{200, "application/json", "{\"status\":\"ok\"}\n"};
           }},
          {"/big", [] {
             return HttpResponse{200, "text/plain", std::string(8 << 20, 'x')};
           }}};
}

}  // namespace

TEST(HttpServer, AnswersAndRejectsWhatItDoesNotServe) {
  HttpServer server(0, routes());
  EXPECT_NE(get(server.port(), "/healthz").find("200 OK"), std::string::npos);
  EXPECT_NE(get(server.port(), "/nope").find("404"), std::string::npos);
}

TEST(HttpServer, ASlowClientDoesNotDelayAProbeAndIsCutOff) {
  HttpServer server(0, routes(), {.max_connections = 64, .request_timeout = 1000ms});
  int slow = connect_to(server.port());
  ASSERT_GE(slow, 0);
  std::atomic<bool> done{false};
  std::thread drip([&] {
    const char* req = "GET /healthz HTTP/1.0\r\n";
    for (const char* c = req; *c && !done.load(); ++c) {
      if (::send(slow, c, 1, MSG_NOSIGNAL) <= 0) break;
      std::this_thread::sleep_for(300ms);
    }
  });
  for (int i = 0; i < 5; ++i) {
    // get() gives up after 2 s: a server that waits on the slow client (its
    // request takes 7 s to arrive) fails this.
    EXPECT_NE(get(server.port(), "/healthz").find("200 OK"), std::string::npos) << "a probe waited on the slow client";
    std::this_thread::sleep_for(200ms);
  }
  for (int i = 0; i < 40 && server.dropped_connections() == 0; ++i) std::this_thread::sleep_for(100ms);
  EXPECT_GE(server.dropped_connections(), 1u) << "the slow client was cut off at its deadline";
  done.store(true);
  drip.join();
  ::close(slow);
}

TEST(HttpServer, AFloodOfIdleConnectionsCannotLockAProbeOut) {
  HttpServer server(0, routes(), {.max_connections = 32});
  std::vector<int> idle;
  for (int i = 0; i < 500; ++i) {
    int fd = connect_to(server.port());
    if (fd >= 0) idle.push_back(fd);
  }
  EXPECT_GT(idle.size(), 400u);
  std::string resp;
  for (int i = 0; i < 20 && resp.find("200 OK") == std::string::npos; ++i) resp = get(server.port(), "/healthz", 500ms);
  EXPECT_NE(resp.find("200 OK"), std::string::npos);
  EXPECT_GT(server.dropped_connections(), 400u) << "idle connections were evicted, not kept";
  for (int fd : idle) ::close(fd);
}

TEST(HttpServer, AClientThatResetsMidResponseDoesNotRaiseSigpipe) {
  // The default action of SIGPIPE kills the process: the server must not raise it.
  struct sigaction old {};
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  ::sigaction(SIGPIPE, &dfl, &old);
  HttpServer server(0, routes());
  for (int i = 0; i < 5; ++i) {
    int fd = connect_to(server.port());
    ASSERT_GE(fd, 0);
    std::string req = "GET /big HTTP/1.0\r\n\r\n";
    (void)!::send(fd, req.data(), req.size(), MSG_NOSIGNAL);
    std::this_thread::sleep_for(50ms);
    linger l{1, 0};  // close with RST
    ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    ::close(fd);
  }
  std::this_thread::sleep_for(200ms);
  EXPECT_NE(get(server.port(), "/healthz").find("200 OK"), std::string::npos);
  ::sigaction(SIGPIPE, &old, nullptr);
}
