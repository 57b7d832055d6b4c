// RedisFeatureStore, part: key and value digests, RESP writing, write stamps
// and batch fingerprints.
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

RedisStoreImpl::Digest RedisStoreImpl::digest_of(std::string_view a, std::string_view b) const {
  constexpr std::string_view kSep("\0", 1);
  auto md = sha256_of({salt_, kSep, a, kSep, b});
  Digest d;
  std::memcpy(d.data(), md.data(), sizeof d);
  return d;
}

void RedisStoreImpl::append_resp_header(std::string& out, char type, std::size_t n) {
  char buf[24];
  char* end = buf + sizeof buf;
  char* p = end;
  do {
    *--p = static_cast<char>('0' + n % 10);
    n /= 10;
  } while (n);
  out.push_back(type);
  out.append(p, static_cast<std::size_t>(end - p));
  out.append("\r\n");
}

RedisStoreImpl::Digest RedisStoreImpl::key_digest(const RuleSet& rules, const FeatureOp& op) const {
  if (op.key_digest != Digest{}) return op.key_digest;
  return digest_of(rules.features[op.feature].fingerprint, op.key);
}

RedisStoreImpl::Digest RedisStoreImpl::value_digest(const FeatureOp& op) const {
  if (op.value_digest != Digest{}) return op.value_digest;
  return digest_of("v", op.of_text);
}

void RedisStoreImpl::digest(const RuleSet& rules, std::span<FeatureOp> ops) const {
  for (FeatureOp& op : ops) {
    op.key_digest = key_digest(rules, op);
    if (op.update && rules.features[op.feature].agg == Aggregation::kDistinct && !op.of.is_null()) {
      op.value_digest = value_digest(op);
    }
  }
}

void RedisStoreImpl::key_text(const Digest& d, std::string& out) {
  out.assign("fs:{");
  append_base64url(out, d.data(), sizeof d);
  out.push_back('}');
}

std::vector<std::uint64_t> RedisStoreImpl::feature_fingerprints(const RuleSet& rules) {
  std::vector<std::uint64_t> out;
  out.reserve(rules.features.size());
  for (const FeatureDef& f : rules.features) out.push_back(std::hash<std::string_view>{}(f.fingerprint));
  return out;
}

void RedisStoreImpl::next_stamp(std::string& out) {
  // splitmix64 of a per-store random seed and a counter: unique per write.
  std::uint64_t z = stamp_seed_ + 0x9e3779b97f4a7c15ull * ++stamp_counter_;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  z ^= z >> 31;
  out.assign(kStampSize, kStampMark);
  std::memcpy(out.data() + 1, &z, 8);
}

std::uint64_t RedisStoreImpl::fingerprint(std::span<const FeatureOp> ops) {
  std::uint64_t h = 1469598103934665603ull ^ ops.size();
  auto mix = [&](std::uint64_t v) { h = (h ^ v) * 1099511628211ull; };
  for (const FeatureOp& op : ops) {
    mix(op.feature);
    mix(std::hash<std::string_view>{}(op.key));
    mix(static_cast<std::uint64_t>(op.bucket));
    mix((op.update ? 1u : 0u) | (op.read ? 2u : 0u));
    mix(static_cast<std::uint64_t>(op.partition));
    mix(static_cast<std::uint64_t>(op.offset));
  }
  return h | 1;  // never 0 (0: nothing to resume)
}

}  // namespace fraud
