// Test helpers: a plain librdkafka producer and consumer (the way a lending
// platform talks to the engine), and a child-process runner for the binary.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <librdkafka/rdkafka.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "connectors/kafka/kafka_config.h"

namespace fraud::testing {

struct Record {
  std::string key, value;
  std::int32_t partition = -1;
  std::int64_t offset = -1;
  std::map<std::string, std::string> headers;
};

inline void produce_all(const std::string& bootstrap, const std::string& topic,
                        const std::vector<std::pair<std::string, std::string>>& key_values) {
  auto p = make_kafka_client(
      RD_KAFKA_PRODUCER,
      make_kafka_conf({{"bootstrap.servers", bootstrap}, {"enable.idempotence", "true"}, {"log_level", "3"}}));
  for (const auto& [k, v] : key_values) {
    while (rd_kafka_producev(p.get(), RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_KEY(k.data(), k.size()),
                             RD_KAFKA_V_VALUE(const_cast<char*>(v.data()), v.size()),
                             RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                             RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      rd_kafka_poll(p.get(), 10);
    }
  }
  rd_kafka_flush(p.get(), 30'000);
}

inline int next_reader_id() {
  static std::atomic<int> id{0};
  return ++id;
}

// Reads `topic` from the beginning until `count` records or `timeout`
// (read_committed: records of open or aborted transactions are not seen).
inline std::vector<Record> consume(const std::string& bootstrap, const std::string& topic, std::size_t count,
                                   std::chrono::seconds timeout = std::chrono::seconds(60)) {
  auto c = make_kafka_client(RD_KAFKA_CONSUMER,
                             make_kafka_conf({{"bootstrap.servers", bootstrap},
                                              {"group.id", "test-reader-" + topic + std::to_string(::getpid()) + "-" +
                                                               std::to_string(next_reader_id())},
                                              {"auto.offset.reset", "earliest"},
                                              {"enable.auto.commit", "false"},
                                              // what a downstream reader of verdicts sees
                                              {"isolation.level", "read_committed"},
                                              {"log_level", "3"}}));
  rd_kafka_poll_set_consumer(c.get());
  auto* subs = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(subs, topic.c_str(), RD_KAFKA_PARTITION_UA);
  rd_kafka_subscribe(c.get(), subs);
  rd_kafka_topic_partition_list_destroy(subs);
  std::vector<Record> out;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (out.size() < count && std::chrono::steady_clock::now() < deadline) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(c.get(), 200);
    if (!m) continue;
    if (!m->err) {
      Record r;
      if (m->key) r.key.assign(static_cast<const char*>(m->key), m->key_len);
      if (m->payload) r.value.assign(static_cast<const char*>(m->payload), m->len);
      r.partition = m->partition;
      r.offset = m->offset;
      rd_kafka_headers_t* h = nullptr;
      if (rd_kafka_message_headers(m, &h) == RD_KAFKA_RESP_ERR_NO_ERROR && h) {
        const char* name;
        const void* value;
        size_t size;
        for (size_t i = 0; rd_kafka_header_get_all(h, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR; ++i) {
          r.headers[name] = value ? std::string(static_cast<const char*>(value), size) : std::string();
        }
      }
      out.push_back(std::move(r));
    }
    rd_kafka_message_destroy(m);
  }
  rd_kafka_consumer_close(c.get());
  return out;
}

// Committed offsets of `group` on `topic` partitions [0, partitions).
inline std::map<int, std::int64_t> committed(const std::string& bootstrap, const std::string& group,
                                             const std::string& topic, int partitions) {
  auto c = make_kafka_client(
      RD_KAFKA_CONSUMER, make_kafka_conf({{"bootstrap.servers", bootstrap}, {"group.id", group}, {"log_level", "3"}}));
  auto* list = rd_kafka_topic_partition_list_new(partitions);
  for (int p = 0; p < partitions; ++p) rd_kafka_topic_partition_list_add(list, topic.c_str(), p);
  rd_kafka_committed(c.get(), list, 10'000);
  std::map<int, std::int64_t> out;
  for (int i = 0; i < list->cnt; ++i) out[list->elems[i].partition] = list->elems[i].offset;
  rd_kafka_topic_partition_list_destroy(list);
  rd_kafka_consumer_close(c.get());
  return out;
}

// GET http://127.0.0.1:port/path; returns the body ("" on failure).
inline std::string http_get(int port, const std::string& path) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return "";
  }
  std::string req = "GET " + path + " HTTP/1.0\r\nHost: localhost\r\n\r\n";
  (void)!::write(fd, req.data(), req.size());
  std::string resp;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) resp.append(buf, static_cast<std::size_t>(n));
  ::close(fd);
  auto body = resp.find("\r\n\r\n");
  return body == std::string::npos ? "" : resp.substr(body + 4);
}

// The value of one sample line of a Prometheus text page, or -1.
inline double metric_value(const std::string& page, const std::string& series) {
  auto p = page.find("\n" + series + " ");
  if (p == std::string::npos) return -1;
  return std::stod(page.substr(p + series.size() + 2));
}

// The fraudstream binary as a child process; `log_path`: where its stdout
// and stderr go (empty: inherited).
class ChildProcess {
 public:
  explicit ChildProcess(std::vector<std::string> args, const std::string& log_path = {}) {
    pid_ = ::fork();
    if (pid_ == 0) {
      if (!log_path.empty()) {
        int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        ::dup2(fd, STDOUT_FILENO);
        ::dup2(fd, STDERR_FILENO);
      }
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
  }
  ~ChildProcess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  pid_t pid() const { return pid_; }
  bool alive() const { return pid_ > 0 && ::kill(pid_, 0) == 0; }
  // True once the process has exited (reaped here; alive() is false after).
  bool exited() {
    if (pid_ <= 0) return true;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) != pid_) return false;
    pid_ = -1;
    return true;
  }

  // Sends `sig` and waits up to `timeout` for exit; returns the exit code or -1.
  int stop(int sig = SIGTERM, std::chrono::seconds timeout = std::chrono::seconds(60)) {
    ::kill(pid_, sig);
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return -1;
  }

 private:
  pid_t pid_ = -1;
};

}  // namespace fraud::testing
