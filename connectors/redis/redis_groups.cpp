// RedisFeatureStore, part: grouping a batch's ops by (feature, key), the
// create policy (engine-computed writes vs the script), encoding and decoding.
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

void RedisStoreImpl::Group::recycle() {
  auto trim = [](auto& buffer) {
    if (buffer.capacity() * sizeof(buffer[0]) > kGroupKeepBytes) {
      std::remove_reference_t<decltype(buffer)>().swap(buffer);
    } else {
      buffer.clear();
    }
  };
  trim(ops);
  trim(expect);
  trim(state);
  trim(ops_blob);
  cached = nullptr;
  prepared = false;
  overflows = 0;
}

RedisStoreImpl::Group& RedisStoreImpl::new_group() {
  if (group_count_ == groups_.size()) groups_.emplace_back();
  Group& g = groups_[group_count_++];
  g.recycle();
  return g;
}

void RedisStoreImpl::group(const RuleSet& rules, std::span<const FeatureOp> ops) {
  ++apply_seq_;
  group_of_.clear();
  group_count_ = 0;
  const bool per_batch = options_.mode == RedisCallMode::kPerBatch;
  const bool caching = cache_.capacity() > 0;
  auto start = [&](std::uint32_t feature, std::size_t op, const Digest& d) -> Group& {
    Group& g = new_group();
    g.feature = feature;
    g.ops.push_back(static_cast<std::uint32_t>(op));
    key_text(d, g.key);
    return g;
  };
  // The cache's index slot and entry of keys a few ops ahead are fetched
  // into the CPU cache while this one is looked up (digested keys only).
  constexpr std::size_t kSlotAhead = 16, kEntryAhead = 8;
  for (std::size_t i = 0; i < ops.size(); ++i) {
    if (caching) {
      if (i + kSlotAhead < ops.size() && ops[i + kSlotAhead].key_digest != Digest{}) {
        cache_.prefetch_slot(ops[i + kSlotAhead].key_digest);
      }
      if (i + kEntryAhead < ops.size() && ops[i + kEntryAhead].key_digest != Digest{}) {
        cache_.prefetch_entry(ops[i + kEntryAhead].key_digest);
      }
    }
    std::uint32_t index = group_count_;
    Digest d = key_digest(rules, ops[i]);
    CachedState* c = caching ? cache_.find_or_add(d, apply_seq_) : nullptr;
    if (c) {
      if (c->batch == apply_seq_) {
        groups_[c->group].ops.push_back(static_cast<std::uint32_t>(i));
        continue;
      }
      c->batch = apply_seq_;
      c->group = index;
      start(ops[i].feature, i, d).cached = c;
      continue;
    }
    if (per_batch) {
      auto [it, inserted] = group_of_.try_emplace(d, index);
      if (!inserted) {
        groups_[it->second].ops.push_back(static_cast<std::uint32_t>(i));
        continue;
      }
    }
    start(ops[i].feature, i, d);
  }
}

void RedisStoreImpl::hash_values(const RuleSet& rules, std::span<const FeatureOp> ops, const Group& g) {
  // Distinct values travel hashed (no raw value ever reaches Redis).
  value_hashes_.assign(g.ops.size(), std::string());
  if (rules.features[g.feature].agg != Aggregation::kDistinct) return;
  for (std::size_t j = 0; j < g.ops.size(); ++j) {
    const FeatureOp& op = ops[g.ops[j]];
    if (op.update && !op.of.is_null()) {
      Digest v = value_digest(op);
      append_base64url(value_hashes_[j], v.data(), sizeof v);
    }
  }
}

void RedisStoreImpl::encode_ops(const FeatureDef& f, std::span<const FeatureOp> ops, Group& g) const {
  const std::vector<std::string>& value_hashes = value_hashes_;
  std::string& blob = g.ops_blob;
  blob.clear();
  msgpack::write_array_header(blob, 5 + 6 * static_cast<std::uint32_t>(g.ops.size()));
  msgpack::write_int(blob, script_agg_code(f.agg));
  msgpack::write_int(blob, f.buckets());
  msgpack::write_int(blob, f.late_buckets);
  msgpack::write_int(blob, f.max_values);
  msgpack::write_int(blob, static_cast<std::int64_t>(g.ops.size()));
  for (std::size_t j = 0; j < g.ops.size(); ++j) {
    const FeatureOp& op = ops[g.ops[j]];
    msgpack::write_int(blob, (op.update ? 1 : 0) + (op.read ? 2 : 0));
    msgpack::write_int(blob, op.bucket);
    bool numeric = op.update && op.of.is_number() && f.agg != Aggregation::kCount && f.agg != Aggregation::kDistinct;
    if (numeric) {
      msgpack::write_double(blob, op.of.number);
    } else {
      msgpack::write_nil(blob);
    }
    if (!value_hashes[j].empty()) {
      msgpack::write_str(blob, value_hashes[j]);
    } else {
      msgpack::write_nil(blob);
    }
    msgpack::write_int(blob, op.partition >= 0 ? op.partition : -1);
    msgpack::write_int(blob, op.offset);
  }
}

void RedisStoreImpl::prepare(const RuleSet& rules, std::span<const FeatureOp> ops, std::span<Value> results,
                             std::span<const std::uint32_t> group_ids, std::int64_t now_ms) {
  for (std::uint32_t gi : group_ids) {
    Group& g = groups_[gi];
    if (done_[gi] || g.prepared) continue;
    g.prepared = true;
    const FeatureDef& f = rules.features[g.feature];
    hash_values(rules, ops, g);
    next_stamp(g.state);
    g.create = false;
    g.absent = false;
    // The key's TTL still covers a write now (sent at most `timeout` before
    // Redis runs it) if this store set it within the slack.
    const TtlArgs& ttl = ttl_args_[g.feature];
    g.keep_ttl = g.cached && g.cached->ttl_sent_ms != kTtlUnknown &&
                 now_ms - g.cached->ttl_sent_ms + options_.timeout_ms <= ttl.slack_ms;
    if (!g.cached || g.cached->stamp == "?") {
      g.expect = "?";
      encode_ops(f, ops, g);
      continue;
    }
    // Compute on the copy (it stays in step with Redis only if the script
    // confirms the stamp; otherwise the script's state replaces it).
    WindowState& s = g.cached->state;
    bool dirty = false;
    g.overflows = 0;
    for (std::size_t j = 0; j < g.ops.size(); ++j) {
      const FeatureOp& op = ops[g.ops[j]];
      late_[g.ops[j]] = window_late(s, f, op.bucket) ? 1 : 0;
      if (op.update && !window_already_applied(s, op.partition, op.offset)) {
        dirty = true;
        if (!window_update(s, f, op.bucket, op.of, value_hashes_[j])) ++g.overflows;
      }
      if (op.read) results[g.ops[j]] = window_read(s, f, op.bucket);
    }
    g.expect = g.cached->stamp;
    if (dirty) {
      window_prune(s, f);
      cache_.account(*g.cached);
      encode_window_state(s, f, g.state);
    }
    // No stored value by the copy: with something to store, a plain SET NX;
    // only read, an EXISTS confirms it (the script only if either finds the
    // key there after all).
    const bool no_value = create_this_apply_ && g.expect.empty();
    g.create = no_value && dirty;
    g.absent = no_value && !dirty;
    if (g.create) g.keep_ttl = false;  // SET NX always sets the TTL (PX)
    if (!no_value) encode_ops(f, ops, g);
  }
}

StoreStatus RedisStoreImpl::decode(const RuleSet& rules, std::span<const FeatureOp> ops, std::span<Value> results,
                                   const Call& call, const redisReply* r) {
  if (r->type != REDIS_REPLY_STRING)
    return StoreStatus::failure("redis: unexpected reply type from the feature script");
  auto malformed = [] { return StoreStatus::failure("redis: malformed reply from the feature script"); };
  msgpack::Reader in(std::string_view(r->str, r->len));
  auto items = in.array_header();
  if (!items || *items < 1) return malformed();
  auto overflows = in.scalar();
  if (!overflows || overflows->kind != msgpack::Scalar::kNumber) return malformed();
  stats_.distinct_overflows.add(static_cast<std::uint64_t>(overflows->number));
  std::vector<char> by_script(call.script.size(), 0);
  std::uint32_t left = *items - 1;
  while (left > 0) {
    auto pos = in.scalar();
    auto stored = in.scalar();
    auto nreads = in.scalar();
    if (left < 3 || !pos || !stored || !nreads || pos->kind != msgpack::Scalar::kNumber ||
        nreads->kind != msgpack::Scalar::kNumber || pos->number < 1 || pos->number > call.script.size()) {
      return malformed();
    }
    left -= 3;
    auto at = static_cast<std::size_t>(pos->number) - 1;
    by_script[at] = 1;
    Group& g = groups_[call.script[at]];
    std::size_t reads = 0;
    for (std::uint32_t i : g.ops) reads += ops[i].read ? 1 : 0;
    if (nreads->number != static_cast<double>(reads) || left < reads) {
      return StoreStatus::failure("redis: feature script answered " + std::to_string(nreads->number) + " values for " +
                                  std::to_string(reads) + " reads");
    }
    for (std::uint32_t i : g.ops) {
      if (!ops[i].read) continue;
      auto v = in.scalar();
      if (!v) return malformed();
      results[i] = v->kind == msgpack::Scalar::kNumber ? Value::of_number(v->number) : Value::null();
    }
    left -= static_cast<std::uint32_t>(reads);
    auto nlate = in.scalar();
    if (left < 1 || !nlate || nlate->kind != msgpack::Scalar::kNumber || nlate->number > g.ops.size() ||
        left - 1 < nlate->number) {
      return malformed();
    }
    left -= 1 + static_cast<std::uint32_t>(nlate->number);
    for (std::uint32_t i : g.ops) late_[i] = 0;  // the script's answer replaces the copy's
    for (std::uint32_t k = 0; k < static_cast<std::uint32_t>(nlate->number); ++k) {
      auto ordinal = in.scalar();
      if (!ordinal || ordinal->kind != msgpack::Scalar::kNumber || ordinal->number < 1 ||
          ordinal->number > g.ops.size()) {
        return malformed();
      }
      late_[g.ops[static_cast<std::size_t>(ordinal->number) - 1]] = 1;
    }
    if (!g.cached) continue;
    // Take over what the script stored (false: no stored value).
    adopt_stored(
        *g.cached, rules.features[g.feature],
        stored->kind == msgpack::Scalar::kString ? std::optional<std::string_view>(stored->text) : std::nullopt);
  }
  stats_.keys_script_computed.add(static_cast<std::uint64_t>(std::count(by_script.begin(), by_script.end(), 1)));
  for (std::size_t at = 0; at < call.script.size(); ++at) {
    if (by_script[at]) continue;
    // The stamp matched: Redis holds the engine's value now (or still the
    // old one when nothing changed).
    engine_state_stored(groups_[call.script[at]], call.sent_ms);
  }
  return StoreStatus::success();
}

void RedisStoreImpl::engine_state_stored(Group& g, std::int64_t sent_ms) {
  stats_.keys_engine_computed.add();
  stats_.distinct_overflows.add(g.overflows);
  if (!g.cached || g.state.size() <= kStampSize) return;  // nothing was written
  g.cached->stamp = std::string_view(g.state).substr(0, kStampSize);
  if (!g.keep_ttl) g.cached->ttl_sent_ms = sent_ms;
}

}  // namespace fraud
