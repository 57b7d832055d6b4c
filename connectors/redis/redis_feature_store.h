// RedisFeatureStore: the FeatureStore on a Redis node (hiredis), with exactly
// the semantics of MemoryFeatureStore (proven by the shared contract suite in
// tests/integration/test_feature_store_contract.cpp).
//
// Layout: one hash per (feature fingerprint, entity) named
// `fs:{<salted hash>}`, so one entity's state lives in one cluster slot and
// one script call updates and reads it atomically. Entity keys and distinct
// values are hashed with a secret salt (SHA-256, 128 bits kept): no raw ID
// or phone number is ever written to Redis. TTL = window + resolution,
// refreshed on update.
//
// One `apply` = one round trip and one script call: the batch's ops are
// grouped by (feature, entity) in first-seen order (ops kept in batch order
// inside a group), and a single EVALSHA of the feature script receives every
// group's key and a MessagePack blob of all ops, and answers every read in
// one MessagePack reply. NOSCRIPT (a restarted Redis) reloads the script and
// retries the batch; idempotency (partition offsets) makes the retry safe.
//
// `RedisCallMode::kPerOperation` is the benchmark's naive reference: one
// synchronous round trip per feature operation, same script and semantics.
//
// Errors are values: an unreachable Redis returns a failed StoreStatus; the
// next apply reconnects. Thread safety: one apply at a time (internal mutex).
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/feature_store.h"

struct redisContext;

namespace fraud {

struct RedisEndpoint {
  std::string host = "127.0.0.1";
  int port = 6379;
  std::string user;      // ACL user; empty: default user
  std::string password;  // empty: no AUTH
};

// Parses `redis://[user:pass@]host:port` (port defaults to 6379).
std::optional<RedisEndpoint> parse_redis_url(const std::string& url);

enum class RedisCallMode { kPerBatch, kPerOperation };

class RedisFeatureStore final : public FeatureStore {
 public:
  RedisFeatureStore(RedisEndpoint endpoint, std::string salt, int timeout_ms = 2000,
                    RedisCallMode mode = RedisCallMode::kPerBatch);
  ~RedisFeatureStore() override;
  RedisFeatureStore(const RedisFeatureStore&) = delete;
  RedisFeatureStore& operator=(const RedisFeatureStore&) = delete;

  StoreStatus apply(const RuleSet& rules, std::span<const FeatureOp> ops, std::span<Value> results) override;
  std::string_view name() const override { return "redis"; }

  // Connects (and loads the script) now; apply() also connects lazily.
  StoreStatus connect();
  std::uint64_t round_trips() const { return round_trips_; }

 private:
  StoreStatus ensure_connected();
  StoreStatus load_script();
  void group(const RuleSet& rules, std::span<const FeatureOp> ops);
  // One EVALSHA over groups [first, last); reads land in `results`.
  StoreStatus call(const RuleSet& rules, std::span<const FeatureOp> ops, std::span<Value> results,
                   std::size_t first, std::size_t last, bool& noscript);
  void disconnect();
  std::string hashed(std::string_view a, std::string_view b) const;

  RedisEndpoint endpoint_;
  std::string salt_;
  int timeout_ms_;
  redisContext* ctx_ = nullptr;
  std::string script_sha_;
  RedisCallMode mode_;
  std::uint64_t round_trips_ = 0;
  std::mutex mu_;
  // Per batch, reused: the groups, their keys, the request blob.
  struct Group {
    std::uint32_t feature;
    std::vector<std::uint32_t> ops;
  };
  std::unordered_map<std::string, std::uint32_t> group_of_;
  std::vector<Group> groups_;
  std::vector<std::string> keys_;
  std::string blob_;
};

}  // namespace fraud
