#include "connectors/redis/redis_feature_store.h"

#include <hiredis/hiredis.h>

#include <charconv>
#include <cstring>
#include <unordered_map>

#include "connectors/redis/feature_script.h"
#include "connectors/redis/msgpack_lite.h"
#include "engine/sha256.h"

namespace fraud {

std::optional<RedisEndpoint> parse_redis_url(const std::string& url) {
  const std::string scheme = "redis://";
  if (url.rfind(scheme, 0) != 0) return std::nullopt;
  std::string rest = url.substr(scheme.size());
  while (!rest.empty() && rest.back() == '/') rest.pop_back();
  RedisEndpoint ep;
  auto at = rest.rfind('@');
  if (at != std::string::npos) {
    std::string cred = rest.substr(0, at);
    rest = rest.substr(at + 1);
    auto colon = cred.find(':');
    if (colon == std::string::npos) {
      ep.password = cred;
    } else {
      ep.user = cred.substr(0, colon);
      ep.password = cred.substr(colon + 1);
    }
  }
  auto colon = rest.rfind(':');
  if (colon != std::string::npos) {
    int port = 0;
    auto r = std::from_chars(rest.data() + colon + 1, rest.data() + rest.size(), port);
    if (r.ec != std::errc() || r.ptr != rest.data() + rest.size() || port <= 0 || port > 65535) return std::nullopt;
    ep.port = port;
    rest = rest.substr(0, colon);
  }
  if (rest.empty()) return std::nullopt;
  ep.host = rest;
  return ep;
}

namespace {

struct ReplyDeleter {
  void operator()(redisReply* r) const {
    if (r) freeReplyObject(r);
  }
};
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;

Reply command(redisContext* c, const std::vector<std::string>& args) {
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  for (const auto& a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  return Reply(static_cast<redisReply*>(redisCommandArgv(c, static_cast<int>(argv.size()), argv.data(), lens.data())));
}

}  // namespace

RedisFeatureStore::RedisFeatureStore(RedisEndpoint endpoint, std::string salt, int timeout_ms, RedisCallMode mode)
    : endpoint_(std::move(endpoint)), salt_(std::move(salt)), timeout_ms_(timeout_ms), mode_(mode) {}

RedisFeatureStore::~RedisFeatureStore() { disconnect(); }

void RedisFeatureStore::disconnect() {
  if (ctx_) redisFree(ctx_);
  ctx_ = nullptr;
}

StoreStatus RedisFeatureStore::connect() {
  std::lock_guard lock(mu_);
  return ensure_connected();
}

StoreStatus RedisFeatureStore::ensure_connected() {
  if (ctx_) return StoreStatus::success();
  timeval tv{timeout_ms_ / 1000, (timeout_ms_ % 1000) * 1000};
  ctx_ = redisConnectWithTimeout(endpoint_.host.c_str(), endpoint_.port, tv);
  if (!ctx_ || ctx_->err) {
    std::string err = ctx_ ? ctx_->errstr : "out of memory";
    disconnect();
    return StoreStatus::failure("connect to redis " + endpoint_.host + ":" + std::to_string(endpoint_.port) + ": " + err);
  }
  redisSetTimeout(ctx_, tv);
  if (!endpoint_.password.empty()) {
    std::vector<std::string> auth = {"AUTH"};
    if (!endpoint_.user.empty()) auth.push_back(endpoint_.user);
    auth.push_back(endpoint_.password);
    Reply r = command(ctx_, auth);
    if (!r || r->type == REDIS_REPLY_ERROR) {
      std::string err = r ? r->str : ctx_->errstr;
      disconnect();
      return StoreStatus::failure("redis AUTH failed: " + err);
    }
  }
  return load_script();
}

StoreStatus RedisFeatureStore::load_script() {
  Reply r = command(ctx_, {"SCRIPT", "LOAD", kFeatureScript});
  if (!r || r->type != REDIS_REPLY_STRING) {
    std::string err = r ? (r->str ? r->str : "unexpected reply") : ctx_->errstr;
    disconnect();
    return StoreStatus::failure("redis SCRIPT LOAD failed: " + err);
  }
  script_sha_.assign(r->str, r->len);
  return StoreStatus::success();
}

std::string RedisFeatureStore::hashed(std::string_view a, std::string_view b) const {
  Sha256 h;
  h.update(salt_);
  h.update(std::string_view("\0", 1));
  h.update(a);
  h.update(std::string_view("\0", 1));
  h.update(b);
  return h.hex_digest().substr(0, 32);
}

StoreStatus RedisFeatureStore::apply(const RuleSet& rules, std::span<const FeatureOp> ops, std::span<Value> results) {
  std::lock_guard lock(mu_);
  group(rules, ops);
  if (groups_.empty()) return StoreStatus::success();
  for (int attempt = 0; attempt < 2; ++attempt) {
    StoreStatus st = ensure_connected();
    if (!st.ok) return st;
    bool noscript = false;
    if (mode_ == RedisCallMode::kPerBatch) {
      st = call(rules, ops, results, 0, groups_.size(), noscript);
    } else {
      // The naive reference: every op on its own, one synchronous round trip
      // each (group i holds exactly op i here).
      for (std::size_t g = 0; g < groups_.size() && st.ok; ++g) st = call(rules, ops, results, g, g + 1, noscript);
    }
    if (st.ok || !noscript) return st;
    StoreStatus reload = load_script();  // Redis restarted and lost its scripts
    if (!reload.ok) return reload;
  }
  return StoreStatus::failure("redis: script missing after reload");
}

void RedisFeatureStore::group(const RuleSet& rules, std::span<const FeatureOp> ops) {
  group_of_.clear();
  groups_.clear();
  keys_.clear();
  std::string id;
  for (std::size_t i = 0; i < ops.size(); ++i) {
    const FeatureDef& f = rules.features[ops[i].feature];
    if (mode_ == RedisCallMode::kPerBatch) {
      id.assign(f.fingerprint);
      id.push_back('\0');
      id.append(ops[i].key);
      auto [it, inserted] = group_of_.try_emplace(id, static_cast<std::uint32_t>(groups_.size()));
      if (!inserted) {
        groups_[it->second].ops.push_back(static_cast<std::uint32_t>(i));
        continue;
      }
    }
    groups_.push_back({ops[i].feature, {static_cast<std::uint32_t>(i)}});
    keys_.push_back("fs:{" + hashed(f.fingerprint, ops[i].key) + "}");
  }
}

StoreStatus RedisFeatureStore::call(const RuleSet& rules, std::span<const FeatureOp> ops, std::span<Value> results,
                                    std::size_t first, std::size_t last, bool& noscript) {
  // The request blob: per group agg, n, ttl, op count, then 6 items per op.
  blob_.clear();
  std::uint32_t items = 0;
  for (std::size_t g = first; g < last; ++g) items += 4 + 6 * static_cast<std::uint32_t>(groups_[g].ops.size());
  msgpack::write_array_header(blob_, items);
  std::size_t reads = 0;
  for (std::size_t g = first; g < last; ++g) {
    const FeatureDef& f = rules.features[groups_[g].feature];
    msgpack::write_int(blob_, script_agg_code(f.agg));
    msgpack::write_int(blob_, f.buckets());
    msgpack::write_int(blob_, f.window_ms + f.resolution_ms);
    msgpack::write_int(blob_, static_cast<std::int64_t>(groups_[g].ops.size()));
    for (std::uint32_t i : groups_[g].ops) {
      const FeatureOp& op = ops[i];
      reads += op.read ? 1 : 0;
      msgpack::write_int(blob_, (op.update ? 1 : 0) + (op.read ? 2 : 0));
      msgpack::write_int(blob_, op.bucket);
      bool numeric = op.update && op.of.is_number() && f.agg != Aggregation::kCount && f.agg != Aggregation::kDistinct;
      if (numeric) {
        msgpack::write_double(blob_, op.of.number);
      } else {
        msgpack::write_nil(blob_);
      }
      if (op.update && f.agg == Aggregation::kDistinct && !op.of.is_null()) {
        msgpack::write_str(blob_, hashed("v", op.of_text));
      } else {
        msgpack::write_nil(blob_);
      }
      msgpack::write_int(blob_, op.partition >= 0 ? op.partition : -1);
      msgpack::write_int(blob_, op.offset);
    }
  }
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  std::string nkeys = std::to_string(last - first);
  argv.reserve(last - first + 4);
  lens.reserve(last - first + 4);
  auto arg = [&](const std::string& s) {
    argv.push_back(s.data());
    lens.push_back(s.size());
  };
  static const std::string kEvalSha = "EVALSHA";
  arg(kEvalSha);
  arg(script_sha_);
  arg(nkeys);
  for (std::size_t g = first; g < last; ++g) arg(keys_[g]);
  arg(blob_);
  ++round_trips_;
  Reply r(static_cast<redisReply*>(redisCommandArgv(ctx_, static_cast<int>(argv.size()), argv.data(), lens.data())));
  if (!r) {
    std::string err = ctx_->errstr;
    disconnect();
    return StoreStatus::failure("redis: " + err);
  }
  if (r->type == REDIS_REPLY_ERROR) {
    if (std::strncmp(r->str, "NOSCRIPT", 8) == 0) noscript = true;
    return StoreStatus::failure(std::string("redis: ") + r->str);
  }
  if (r->type != REDIS_REPLY_STRING) return StoreStatus::failure("redis: unexpected reply type from the feature script");
  msgpack::Reader in(std::string_view(r->str, r->len));
  auto n = in.array_header();
  if (!n || *n != reads) return StoreStatus::failure("redis: feature script answered " + std::to_string(n ? *n : 0) +
                                                     " values for " + std::to_string(reads) + " reads");
  for (std::size_t g = first; g < last; ++g) {
    for (std::uint32_t i : groups_[g].ops) {
      if (!ops[i].read) continue;
      auto v = in.scalar();
      if (!v) return StoreStatus::failure("redis: malformed reply from the feature script");
      results[i] = v->kind == msgpack::Scalar::kNumber ? Value::of_number(v->number) : Value::null();
    }
  }
  return StoreStatus::success();
}

}  // namespace fraud
