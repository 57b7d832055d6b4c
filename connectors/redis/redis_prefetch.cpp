// RedisFeatureStore, part: fetching ahead the keys of a later batch and
// adopting what comes back into the state cache.
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

void RedisStoreImpl::prefetch(const RuleSet& rules, std::span<const FeatureOp> ops) {
  if (options_.mode != RedisCallMode::kPerBatch || cache_.capacity() == 0 || ops.empty()) return;
  const std::vector<std::uint64_t> fingerprints = feature_fingerprints(rules);
  std::lock_guard lock(announced_mu_);
  for (const FeatureOp& op : ops) {
    if (announced_.size() >= kMaxPrefetch) break;
    if (op.key_digest == Digest{}) continue;  // not digested: its key is not known here
    announced_.push_back({op.key_digest, op.feature, fingerprints[op.feature], ops.data()});
  }
}

void RedisStoreImpl::plan_fetches(const RuleSet& rules, std::span<const FeatureOp> ops, std::vector<Call>& calls,
                                  std::span<const int> call_of_node) {
  taken_.clear();  // (fetches_ is empty: apply() clears it after every apply)
  {
    std::lock_guard lock(announced_mu_);
    taken_.swap(announced_);
  }
  if (taken_.empty()) return;
  const std::vector<std::uint64_t> fingerprints = feature_fingerprints(rules);
  for (const Announced& a : taken_) {
    if (a.ops == ops.data()) continue;  // this very batch's (announced after it was planned, applied now)
    // Only keys Redis likely holds and this cache does not: new keys are
    // created, held ones computed on (this batch's keys are held by now).
    if (a.feature >= fingerprints.size() || fingerprints[a.feature] != a.fingerprint) continue;  // another pack's
    if (!cache_.evicted_recently(a.digest) || cache_.holds(a.digest)) continue;
    Fetch& f = fetches_.emplace_back();
    f.digest = a.digest;
    f.feature = a.feature;
  }
  // Once each (a key announced by several ops or batches).
  std::sort(fetches_.begin(), fetches_.end(), [](const Fetch& a, const Fetch& b) { return a.digest < b.digest; });
  fetches_.erase(std::unique(fetches_.begin(), fetches_.end(),
                             [](const Fetch& a, const Fetch& b) { return a.digest == b.digest; }),
                 fetches_.end());
  for (std::uint32_t i = 0; i < fetches_.size(); ++i) {
    Fetch& f = fetches_[i];
    key_text(f.digest, f.key);
    int node = cluster_ ? slot_node_[redis_key_slot(f.key)] : 0;
    // Only on a node this apply sends to anyway: no round trip of its own.
    if (node < 0 || static_cast<std::size_t>(node) >= call_of_node.size() || call_of_node[node] < 0) continue;
    calls[call_of_node[node]].fetches.push_back(i);
  }
}

void RedisStoreImpl::install_fetches(const RuleSet& rules) {
  for (const Fetch& f : fetches_) {
    if (!f.answered) continue;
    CachedState* c = cache_.find_or_add(f.digest, apply_seq_);
    if (!c || c->stamp != "?") continue;  // no room, or known otherwise by now
    c->batch = apply_seq_;                // not released while the other fetches are installed
    stats_.keys_prefetched.add();
    // Nil: Redis holds nothing (expired), so the later apply creates it.
    adopt_stored(*c, rules.features[f.feature], f.exists ? std::optional<std::string_view>(f.value) : std::nullopt);
  }
}

void RedisStoreImpl::adopt_stored(CachedState& c, const FeatureDef& f, std::optional<std::string_view> stored) {
  if (!stored) {
    cache_.forget(c, "");
    return;
  }
  std::string_view stamp, body;
  split_stored_state(*stored, stamp, body);
  if (stamp.empty() || !decode_window_state(body, f, c.state)) {
    cache_.forget(c, "?");  // not a value this engine can compute on: the script keeps computing it
    return;
  }
  c.stamp = stamp;
  c.ttl_sent_ms = kTtlUnknown;  // whoever wrote it, when its TTL was set is not known here
  cache_.account(c);
}

}  // namespace fraud
