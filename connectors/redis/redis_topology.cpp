// RedisFeatureStore, part: connections, epochs (lost-state detection), the
// cluster slot map and its refresh (CLUSTER SLOTS, MOVED / ASK).
#include "connectors/redis/redis_store_impl.h"

#include <hiredis/hiredis.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <csignal>
#include <cstring>
#include <functional>
#include <memory>
#include <random>
#include <thread>

#include "connectors/redis/feature_script.h"
#include "connectors/redis/msgpack_lite.h"
#include "connectors/redis/redis_reply.h"
#include "connectors/redis/window_codec.h"
#include "engine/sha256.h"

namespace fraud {

using namespace redis_reply;

namespace {

constexpr std::array<std::uint16_t, 256> make_crc16_table() {
  std::array<std::uint16_t, 256> t{};
  for (int i = 0; i < 256; ++i) {
    std::uint16_t crc = static_cast<std::uint16_t>(i << 8);
    for (int b = 0; b < 8; ++b) crc = static_cast<std::uint16_t>((crc & 0x8000) ? (crc << 1) ^ 0x1021 : crc << 1);
    t[i] = crc;
  }
  return t;
}
constexpr auto kCrc16 = make_crc16_table();  // CRC16-CCITT (XMODEM), as Redis Cluster

}  // namespace

std::uint16_t redis_key_slot(std::string_view key) {
  auto open = key.find('{');
  if (open != std::string_view::npos) {
    auto close = key.find('}', open + 1);
    if (close != std::string_view::npos && close > open + 1) key = key.substr(open + 1, close - open - 1);
  }
  std::uint16_t crc = 0;
  for (unsigned char c : key) crc = static_cast<std::uint16_t>((crc << 8) ^ kCrc16[((crc >> 8) ^ c) & 0xff]);
  return crc & 16383;
}

RedisStoreImpl::~RedisStoreImpl() {
  for (auto& n : nodes_) disconnect(n);
}

void RedisStoreImpl::disconnect(Node& n) {
  if (n.ctx) redisFree(n.ctx);
  n.ctx = nullptr;
}

StoreStatus RedisStoreImpl::connect() {
  std::lock_guard lock(mu_);
  if (!topology_known_) return refresh_topology();
  for (auto& n : nodes_) {
    StoreStatus st = connect_node(n);
    if (!st.ok) return st;
  }
  return StoreStatus::success();
}

StoreStatus RedisStoreImpl::connect_node(Node& n) {
  if (n.ctx) return StoreStatus::success();
  const RedisEndpoint& creds = seeds_.front();
  int t = options_.timeout_ms;
  timeval tv{t / 1000, (t % 1000) * 1000};
  n.ctx = redisConnectWithTimeout(n.host.c_str(), n.port, tv);
  std::string where = describe(n);
  if (!n.ctx || n.ctx->err) {
    std::string err = n.ctx ? n.ctx->errstr : "out of memory";
    disconnect(n);
    return StoreStatus::failure("connect to " + where + ": " + err);
  }
  redisSetTimeout(n.ctx, tv);
  if (!creds.password.empty()) {
    std::vector<std::string> auth = {"AUTH"};
    if (!creds.user.empty()) auth.push_back(creds.user);
    auth.push_back(creds.password);
    Reply r = command(n.ctx, auth);
    if (!r || r->type == REDIS_REPLY_ERROR) {
      std::string err = r ? r->str : n.ctx->errstr;
      disconnect(n);
      return StoreStatus::failure(where + ": AUTH failed: " + err);
    }
  }
  Reply r = command(n.ctx, {"SCRIPT", "LOAD", kFeatureScript});
  if (!r || r->type != REDIS_REPLY_STRING) {
    std::string err = r ? (r->str ? r->str : "unexpected reply") : n.ctx->errstr;
    disconnect(n);
    return StoreStatus::failure(where + ": SCRIPT LOAD failed: " + err);
  }
  script_sha_.assign(r->str, r->len);
  return StoreStatus::success();
}

std::string RedisStoreImpl::epoch_key_for(std::size_t node) const {
  if (!cluster_) return "fs:epoch";
  // A hash tag whose slot this master serves, so the key lives on it.
  for (std::uint32_t i = 0; i < 1'000'000; ++i) {
    std::string key = "fs:epoch:{" + std::to_string(i) + "}";
    std::uint16_t slot = redis_key_slot(key);
    if (slot < slot_node_.size() && slot_node_[slot] == static_cast<std::int16_t>(node)) return key;
  }
  return {};
}

StoreStatus RedisStoreImpl::check_epochs(bool& reset) {
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    Node& n = nodes_[i];
    if (!n.ctx) continue;
    if (n.epoch_key.empty()) n.epoch_key = epoch_key_for(i);
    if (n.epoch_key.empty()) continue;  // serves no slot
    std::random_device rd;
    char fresh[33];
    std::snprintf(fresh, sizeof fresh, "%08x%08x%08x%08x", rd(), rd(), rd(), rd());
    redisAppendCommand(n.ctx, "SET %b %s NX", n.epoch_key.data(), n.epoch_key.size(), fresh);
    redisAppendCommand(n.ctx, "GET %b", n.epoch_key.data(), n.epoch_key.size());
    void* raw = nullptr;
    bool io_ok = redisGetReply(n.ctx, &raw) == REDIS_OK;
    Reply set(static_cast<redisReply*>(raw));
    raw = nullptr;
    io_ok = io_ok && redisGetReply(n.ctx, &raw) == REDIS_OK;
    Reply get(static_cast<redisReply*>(raw));
    if (!io_ok || !get) {
      std::string err = n.ctx->errstr;
      disconnect(n);
      topology_known_ = false;
      return StoreStatus::failure(describe(n) + ": epoch check: " + err);
    }
    if (get->type != REDIS_REPLY_STRING) {
      n.epoch_key.clear();  // MOVED / ASK after a reshard: choose again after the next topology read
      continue;
    }
    std::string now(get->str, get->len);
    if (!n.epoch.empty() && now != n.epoch) {
      stats_.state_resets.add();
      reset = true;
    }
    n.epoch = std::move(now);
  }
  return StoreStatus::success();
}

std::string RedisStoreImpl::describe(const Node& n) { return "redis " + n.host + ":" + std::to_string(n.port); }

std::string RedisStoreImpl::replicas_text() const { return std::to_string(options_.wait_replicas) + " replica(s)"; }

int RedisStoreImpl::node_index(const std::string& host, int port) {
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    if (nodes_[i].host == host && nodes_[i].port == port) return static_cast<int>(i);
  }
  nodes_.push_back({host, port, nullptr});
  return static_cast<int>(nodes_.size() - 1);
}

StoreStatus RedisStoreImpl::refresh_topology() {
  stats_.topology_refreshes.add();
  // Known nodes first (they are current), then the seeds.
  std::vector<std::pair<std::string, int>> candidates;
  for (const auto& n : nodes_) candidates.emplace_back(n.host, n.port);
  for (const auto& s : seeds_) candidates.emplace_back(s.host, s.port);
  std::string errors;
  auto failed = [&](const std::string& e) { errors += (errors.empty() ? "" : "; ") + e; };
  for (const auto& [host, port] : candidates) {
    int i = node_index(host, port);
    StoreStatus st = connect_node(nodes_[i]);
    if (!st.ok) {
      failed(st.error);
      continue;
    }
    Reply r = command(nodes_[i].ctx, {"CLUSTER", "SLOTS"});
    if (!r) {
      failed(describe(nodes_[i]) + ": " + nodes_[i].ctx->errstr);
      disconnect(nodes_[i]);
      continue;
    }
    if (r->type == REDIS_REPLY_ERROR && std::strstr(r->str, "cluster support disabled")) {
      // A plain node: it serves every key.
      Node only = std::move(nodes_[i]);
      nodes_[i].ctx = nullptr;
      for (auto& n : nodes_) disconnect(n);
      nodes_.clear();
      nodes_.push_back(std::move(only));
      cluster_ = false;
      slot_node_.clear();
      topology_known_ = true;
      return StoreStatus::success();
    }
    if (r->type != REDIS_REPLY_ARRAY) {
      failed(describe(nodes_[i]) + ": unexpected CLUSTER SLOTS reply");
      continue;
    }
    std::vector<std::int16_t> slots(16384, -1);
    for (std::size_t e = 0; e < r->elements; ++e) {
      const redisReply* range = r->element[e];
      if (range->type != REDIS_REPLY_ARRAY || range->elements < 3) continue;
      const redisReply* master = range->element[2];
      if (master->type != REDIS_REPLY_ARRAY || master->elements < 2) continue;
      std::string mhost(master->element[0]->str, master->element[0]->len);
      if (mhost.empty()) mhost = host;  // a node that does not know its own address
      int n = node_index(mhost, static_cast<int>(master->element[1]->integer));
      for (long long s = range->element[0]->integer; s <= range->element[1]->integer && s < 16384; ++s) {
        slots[static_cast<std::size_t>(s)] = static_cast<std::int16_t>(n);
      }
    }
    slot_node_ = std::move(slots);
    cluster_ = true;
    topology_known_ = true;
    return StoreStatus::success();
  }
  topology_known_ = false;
  return StoreStatus::failure("no redis node reachable: " + errors);
}

}  // namespace fraud
