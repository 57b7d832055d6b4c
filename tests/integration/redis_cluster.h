// A real Redis Cluster for integration tests and benchmarks: `masters`
// masters with `replicas` replicas each, on free loopback ports, created with
// `redis-cli --cluster create` (Debian packages redis-server, redis-tools).
// Nodes can be killed (SIGKILL) and restarted on the same port and
// directory, and slots migrated between masters (to provoke MOVED/ASK).
#pragma once

#include <hiredis/hiredis.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "redis_server.h"

namespace fraud::testing {

class RedisCluster {
 public:
  explicit RedisCluster(int masters = 3, int replicas = 1, int node_timeout_ms = 1000)
      : node_timeout_ms_(node_timeout_ms) {
    dir_ = std::filesystem::temp_directory_path() /
           ("fraudstream-cluster-" + std::to_string(::getpid()) + "-" + std::to_string(counter()++));
    std::filesystem::create_directories(dir_);
    int n = masters * (1 + replicas);
    for (int i = 0; i < n; ++i) start(free_cluster_port());
    std::string cmd = "redis-cli --cluster create";
    for (auto& [port, _] : nodes_) cmd += " 127.0.0.1:" + std::to_string(port);
    cmd += " --cluster-replicas " + std::to_string(replicas) + " --cluster-yes > " + (dir_ / "create.log").string() +
           " 2>&1";
    if (std::system(cmd.c_str()) != 0)
      throw std::runtime_error("redis-cli --cluster create failed: see " + (dir_ / "create.log").string());
    if (!wait_healthy(std::chrono::seconds(30))) throw std::runtime_error("redis cluster did not become healthy");
  }
  ~RedisCluster() {
    nodes_.clear();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  RedisCluster(const RedisCluster&) = delete;
  RedisCluster& operator=(const RedisCluster&) = delete;

  // redis://127.0.0.1:p1,127.0.0.1:p2,... (every node as a seed).
  std::string url() const {
    std::string u = "redis://";
    bool first = true;
    for (auto& [port, _] : nodes_) {
      u += (first ? "" : ",") + std::string("127.0.0.1:") + std::to_string(port);
      first = false;
    }
    return u;
  }

  // Replies of one command on one node (nullptr if it is down).
  static redisReply* command(int port, const std::vector<std::string>& args) {
    redisContext* c = redisConnect("127.0.0.1", port);
    if (!c || c->err) {
      if (c) redisFree(c);
      return nullptr;
    }
    std::vector<const char*> argv;
    std::vector<size_t> lens;
    for (auto& a : args) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    auto* r = static_cast<redisReply*>(redisCommandArgv(c, static_cast<int>(argv.size()), argv.data(), lens.data()));
    redisFree(c);
    return r;
  }
  static std::string text(int port, const std::vector<std::string>& args) {
    redisReply* r = command(port, args);
    std::string s =
        r && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS || r->type == REDIS_REPLY_ERROR)
            ? std::string(r->str, r->len)
            : "";
    if (r) freeReplyObject(r);
    return s;
  }

  // The master serving `slot` (port), from a live node's view; 0 if none.
  int master_of_slot(int slot) const {
    for (auto& [port, server] : nodes_) {
      if (!server) continue;
      redisReply* r = command(port, {"CLUSTER", "SLOTS"});
      if (!r) continue;
      int found = 0;
      for (std::size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; ++i) {
        auto* range = r->element[i];
        if (range->element[0]->integer <= slot && slot <= range->element[1]->integer) {
          found = static_cast<int>(range->element[2]->element[1]->integer);
        }
      }
      freeReplyObject(r);
      if (found) return found;
    }
    return 0;
  }
  std::vector<int> masters() const {
    std::vector<int> out;
    for (auto& [port, server] : nodes_) {
      if (!server) continue;
      redisReply* r = command(port, {"ROLE"});
      if (r && r->type == REDIS_REPLY_ARRAY && std::string(r->element[0]->str) == "master") out.push_back(port);
      if (r) freeReplyObject(r);
    }
    return out;
  }

  void kill(int port) {
    nodes_.at(port)->kill();
    nodes_[port].reset();
  }
  // Restarts a killed node on its port and directory (it rejoins as a
  // replica of whoever took its slots).
  void restart(int port) { start(port); }

  // Every slot served by a live master, and every live node says ok.
  bool wait_healthy(std::chrono::seconds timeout) const {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      bool ok = true;
      for (auto& [port, server] : nodes_) {
        if (!server) continue;
        std::string info = text(port, {"CLUSTER", "INFO"});
        if (info.find("cluster_state:ok") == std::string::npos) ok = false;
        std::string repl = text(port, {"INFO", "replication"});
        if (repl.find("role:slave") != std::string::npos && repl.find("master_link_status:up") == std::string::npos)
          ok = false;
      }
      if (ok && all_slots_live()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }

  // Moves `slot` to master `to`, migrating half its keys first and running
  // `between` while the slot is half moved (keys on both sides: ASK and
  // TRYAGAIN territory), then the rest, then assigns it (MOVED from then on).
  void migrate_slot(int slot, int to, const std::function<void()>& between = {}) {
    int from = master_of_slot(slot);
    std::string from_id = text(from, {"CLUSTER", "MYID"});
    std::string to_id = text(to, {"CLUSTER", "MYID"});
    text(to, {"CLUSTER", "SETSLOT", std::to_string(slot), "IMPORTING", from_id});
    text(from, {"CLUSTER", "SETSLOT", std::to_string(slot), "MIGRATING", to_id});
    auto move_keys = [&](int count) {
      redisReply* keys = command(from, {"CLUSTER", "GETKEYSINSLOT", std::to_string(slot), std::to_string(count)});
      std::vector<std::string> args = {"MIGRATE", "127.0.0.1", std::to_string(to), "", "0", "5000", "KEYS"};
      for (std::size_t i = 0; keys && i < keys->elements; ++i)
        args.emplace_back(keys->element[i]->str, keys->element[i]->len);
      if (keys) freeReplyObject(keys);
      if (args.size() > 7) text(from, args);
    };
    int total = 0;
    if (redisReply* c = command(from, {"CLUSTER", "COUNTKEYSINSLOT", std::to_string(slot)})) {
      total = static_cast<int>(c->integer);
      freeReplyObject(c);
    }
    move_keys(std::max(1, total / 2));
    if (between) between();
    move_keys(1'000'000);
    for (auto& [port, server] : nodes_) {
      if (server) text(port, {"CLUSTER", "SETSLOT", std::to_string(slot), "NODE", to_id});
    }
  }

 private:
  // A node also listens on port + 10000 (the cluster bus): both must be free.
  static int free_cluster_port() {
    static std::mt19937 rng(static_cast<unsigned>(::getpid()));
    for (int i = 0; i < 1000; ++i) {
      int port = 20000 + static_cast<int>(rng() % 30000);
      if (!port_open(port) && !port_open(port + 10000) && loopback_port(port, true) &&
          loopback_port(port + 10000, true)) {
        return port;
      }
    }
    throw std::runtime_error("no free port pair for a cluster node");
  }
  static int& counter() {
    static int c = 0;
    return c;
  }
  void start(int port) {
    std::string d = (dir_ / std::to_string(port)).string();
    std::filesystem::create_directories(d);
    nodes_[port] = std::make_unique<RedisServer>(
        "", "", port, "",
        std::vector<std::string>{"--cluster-enabled", "yes", "--cluster-config-file", d + "/nodes.conf", "--dir", d,
                                 "--cluster-node-timeout", std::to_string(node_timeout_ms_)});
  }
  bool all_slots_live() const {
    for (auto& [port, server] : nodes_) {
      if (!server) continue;
      redisReply* r = command(port, {"CLUSTER", "SLOTS"});
      if (!r) continue;
      long long covered = 0;
      bool live = true;
      for (std::size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; ++i) {
        auto* range = r->element[i];
        covered += range->element[1]->integer - range->element[0]->integer + 1;
        int master = static_cast<int>(range->element[2]->element[1]->integer);
        if (!nodes_.count(master) || !nodes_.at(master)) live = false;
      }
      freeReplyObject(r);
      return live && covered == 16384;
    }
    return false;
  }

  std::filesystem::path dir_;
  int node_timeout_ms_;
  std::map<int, std::unique_ptr<RedisServer>> nodes_;
};

}  // namespace fraud::testing
