// RedisFeatureStore, part: construction and apply (resume of a batch after
// a partial failure, run until settled). See redis_feature_store.h.
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

RedisStoreImpl::RedisStoreImpl(std::vector<RedisEndpoint> seeds, std::string salt, RedisStoreOptions options,
                               FeatureStoreStats& stats)
    : seeds_(std::move(seeds)),
      salt_(std::move(salt)),
      options_(options),
      cache_(options.mode == RedisCallMode::kPerBatch ? options.cache_keys : 0, options.cache_bytes),
      stats_(stats) {
  // hiredis writes with write(2): a connection Redis closed (a restart, a
  // failover) would raise SIGPIPE and kill the process instead of failing a
  // call. Ignored unless the process installed its own handler.
  struct sigaction current {};
  if (::sigaction(SIGPIPE, nullptr, &current) == 0 && current.sa_handler == SIG_DFL) ::signal(SIGPIPE, SIG_IGN);
  std::random_device rd;
  stamp_seed_ = (static_cast<std::uint64_t>(rd()) << 32) ^ rd() ^
                static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
}

// ---- the public face: forwards to the private state -------------------------

RedisFeatureStore::RedisFeatureStore(std::vector<RedisEndpoint> seeds, std::string salt, RedisStoreOptions options)
    : impl_(std::make_unique<RedisStoreImpl>(std::move(seeds), std::move(salt), options, stats_)) {}

RedisFeatureStore::RedisFeatureStore(RedisEndpoint endpoint, std::string salt, int timeout_ms, RedisCallMode mode)
    : RedisFeatureStore(std::vector<RedisEndpoint>{std::move(endpoint)}, std::move(salt),
                        RedisStoreOptions{.timeout_ms = timeout_ms, .mode = mode}) {}

RedisFeatureStore::~RedisFeatureStore() = default;

StoreStatus RedisFeatureStore::apply(const RuleSet& rules, std::span<const FeatureOp> ops, std::span<Value> results) {
  return impl_->apply(rules, ops, results);
}
void RedisFeatureStore::digest(const RuleSet& rules, std::span<FeatureOp> ops) const { impl_->digest(rules, ops); }
void RedisFeatureStore::prefetch(const RuleSet& rules, std::span<const FeatureOp> ops) { impl_->prefetch(rules, ops); }
StoreStatus RedisFeatureStore::connect() { return impl_->connect(); }
bool RedisFeatureStore::creating() const { return impl_->creating(); }
bool RedisFeatureStore::cluster() const { return impl_->cluster(); }
std::size_t RedisFeatureStore::node_count() const { return impl_->node_count(); }

// ---- construction and apply --------------------------------------------------

StoreStatus RedisStoreImpl::apply(const RuleSet& rules, std::span<const FeatureOp> ops, std::span<Value> results) {
  std::lock_guard lock(mu_);
  struct PublishCache {  // the cache's figures, as of the end of every apply
    RedisStoreImpl& s;
    ~PublishCache() {
      s.stats_.cache_entries.set(s.cache_.size());
      s.stats_.cache_bytes.set(s.cache_.bytes());
      s.stats_.cache_evictions.set(s.cache_.evictions());
    }
  } publish{*this};
  // Creates (and absence checks) while few of them conflict; else only every
  // kCreateProbeEvery-th apply, to notice when they would pay again.
  const bool probe = !creating() && ++applies_without_creates_ % kCreateProbeEvery == 0;
  create_this_apply_ = creating() || probe;
  const std::uint64_t created_before = stats_.keys_created + stats_.keys_checked_absent;
  const std::uint64_t conflicts_before = stats_.create_conflicts + stats_.absence_conflicts;
  StoreStatus st = apply_locked(rules, ops, results);
  if (st.ok && group_count_ > 0) {
    bool reset = false;
    StoreStatus e = check_epochs(reset);
    if (!e.ok) {
      st = e;  // the batch is retried (idempotent) once the node answers
    } else if (reset) {
      // (Copies of states Redis no longer holds fail their stamp check:
      // the script computed those keys from what Redis holds.)
      st.state_reset = true;
    }
  }
  if (st.ok) {
    install_fetches(rules);
    for (std::size_t i = 0; i < late_.size(); ++i) {
      if (late_[i]) st.late_ops.push_back(static_cast<std::uint32_t>(i));
    }
  }
  fetches_.clear();
  const auto created = static_cast<double>(stats_.keys_created + stats_.keys_checked_absent - created_before);
  const auto conflicts = static_cast<double>(stats_.create_conflicts + stats_.absence_conflicts - conflicts_before);
  if (created + conflicts > 0) {
    double share = conflicts / (created + conflicts);
    // A probe is a fresh measurement; otherwise a moving average.
    conflict_share_ = probe ? share : conflict_share_ + (share - conflict_share_) / 4;
    if (creating()) applies_without_creates_ = 0;
  }
  if (!st.ok) {
    // Copies computed on for groups that did not finish may be ahead of
    // Redis or behind it: the script computes those keys next time.
    for (std::uint32_t g = 0; g < group_count_; ++g) {
      if (done_[g] || !groups_[g].cached) continue;
      cache_.forget(*groups_[g].cached, "?");
    }
  }
  // Only idempotent batches (source positions) can be recognised on retry.
  bool idempotent = !ops.empty() && ops.front().partition >= 0;
  if (st.ok || group_count_ == 0 || !idempotent) {
    resume_fingerprint_ = 0;
    unreplicated_.clear();
    return st;
  }
  // Remember what succeeded for the retry of this very batch (and which
  // nodes still owe replication).
  resume_fingerprint_ = fingerprint(ops);
  resume_done_ = done_;
  resume_results_.assign(results.begin(), results.end());
  resume_late_ = late_;
  return st;
}

StoreStatus RedisStoreImpl::apply_locked(const RuleSet& rules, std::span<const FeatureOp> ops,
                                         std::span<Value> results) {
  group(rules, ops);
  late_.assign(ops.size(), 0);
  if (group_count_ == 0) return StoreStatus::success();
  done_.assign(group_count_, 0);
  if (resume_fingerprint_ != 0 && resume_done_.size() == group_count_ && resume_results_.size() == ops.size() &&
      fingerprint(ops) == resume_fingerprint_) {
    // The retry of a batch that failed part-way: keep what succeeded.
    done_ = resume_done_;
    late_ = resume_late_;
    for (std::uint32_t g = 0; g < group_count_; ++g) {
      if (!done_[g]) continue;
      for (std::uint32_t i : groups_[g].ops) results[i] = resume_results_[i];
    }
    // Writes that ran but were not replicated yet: wait for them first.
    std::vector<int> still;
    for (int n : unreplicated_) {
      Node& node = nodes_[n];
      if (!node.ctx)
        return StoreStatus::failure(describe(node) + ": connection lost before its writes were replicated");
      Reply w(static_cast<redisReply*>(
          redisCommand(node.ctx, "WAIT %d %d", options_.wait_replicas, options_.timeout_ms / 2)));
      if (!w || w->type != REDIS_REPLY_INTEGER || w->integer < options_.wait_replicas) still.push_back(n);
    }
    unreplicated_ = std::move(still);
    if (!unreplicated_.empty()) {
      return StoreStatus::failure(describe(nodes_[unreplicated_.front()]) + ": writes not yet on " + replicas_text());
    }
  } else {
    unreplicated_.clear();
  }
  if (!topology_known_) {
    StoreStatus st = refresh_topology();
    if (!st.ok) return st;
  }
  ttl_args_.resize(rules.features.size());
  for (std::size_t f = 0; f < rules.features.size(); ++f) {
    TtlArgs& t = ttl_args_[f];
    // A key lives as long as an event may still read it: window + lateness + one bucket.
    std::int64_t ttl = (rules.features[f].kept_buckets() + 1) * rules.features[f].resolution_ms;
    if (t.ttl_ms == ttl) continue;
    t.ttl_ms = ttl;
    t.slack_ms = ttl / 8;
    t.set = std::to_string(ttl + t.slack_ms);
    t.keep = "-" + t.set;
  }
  // First pass: per node, calls of up to kGroupsPerCall groups each (per
  // batch mode; all written before any reply is read, so still one round
  // trip per node), or one call per group (naive mode).
  std::vector<Call> calls;
  std::vector<int> call_of_node(nodes_.size(), -1);
  for (std::uint32_t g = 0; g < group_count_; ++g) {
    if (done_[g]) continue;
    int node = 0;
    if (cluster_) {  // (a plain node needs no slots)
      groups_[g].slot = redis_key_slot(groups_[g].key);
      node = slot_node_[groups_[g].slot];
    }
    if (node < 0) node = 0;  // a slot nobody serves (yet): the node's answer says where
    if (options_.mode == RedisCallMode::kPerOperation) {
      calls.push_back({node, {g}, false, {}});
      continue;
    }
    if (static_cast<std::size_t>(node) >= call_of_node.size()) call_of_node.resize(node + 1, -1);
    if (call_of_node[node] < 0 || calls[call_of_node[node]].groups.size() >= kGroupsPerCall) {
      call_of_node[node] = static_cast<int>(calls.size());
      calls.push_back({node, {}, false, {}});
    }
    calls[call_of_node[node]].groups.push_back(g);
  }
  if (options_.mode == RedisCallMode::kPerOperation) {
    // Synchronous: one round trip per op.
    for (Call& c : calls) {
      StoreStatus st = run_until_settled(rules, ops, results, {std::move(c)});
      if (!st.ok) return st;
    }
    return StoreStatus::success();
  }
  plan_fetches(rules, ops, calls, call_of_node);
  return run_until_settled(rules, ops, results, std::move(calls));
}

StoreStatus RedisStoreImpl::run_until_settled(const RuleSet& rules, std::span<const FeatureOp> ops,
                                              std::span<Value> results, std::vector<Call> calls) {
  for (int attempt = 0; attempt < 8; ++attempt) {
    std::vector<Call> retry;
    StoreStatus st = run_calls(rules, ops, results, calls, retry);
    if (!st.ok) return st;
    if (retry.empty()) return StoreStatus::success();
    calls = std::move(retry);
  }
  return StoreStatus::failure("redis: keys still moving after 8 redirects");
}

}  // namespace fraud
