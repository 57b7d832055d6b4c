#include "connectors/redis/redis_feature_store.h"

#include <hiredis/hiredis.h>

#include <charconv>
#include <cstring>
#include <unordered_map>

#include "connectors/redis/feature_script.h"
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

RedisFeatureStore::RedisFeatureStore(RedisEndpoint endpoint, std::string salt, int timeout_ms)
    : endpoint_(std::move(endpoint)), salt_(std::move(salt)), timeout_ms_(timeout_ms) {}

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
  for (int attempt = 0; attempt < 2; ++attempt) {
    StoreStatus st = ensure_connected();
    if (!st.ok) return st;
    bool noscript = false;
    st = run_batch(rules, ops, results, noscript);
    if (st.ok || !noscript) return st;
    StoreStatus reload = load_script();  // Redis restarted and lost its scripts
    if (!reload.ok) return reload;
  }
  return StoreStatus::failure("redis: script missing after reload");
}

StoreStatus RedisFeatureStore::run_batch(const RuleSet& rules, std::span<const FeatureOp> ops, std::span<Value> results,
                                         bool& noscript) {
  // Group ops by (feature, entity), keeping first-seen order of groups and
  // batch order inside each group.
  std::unordered_map<std::string, std::size_t> group_of;
  std::vector<std::vector<std::size_t>> groups;
  std::vector<std::string> group_keys;
  for (std::size_t i = 0; i < ops.size(); ++i) {
    const FeatureDef& f = rules.features[ops[i].feature];
    std::string id = f.fingerprint;
    id.push_back('\0');
    id.append(ops[i].key);
    auto [it, inserted] = group_of.emplace(std::move(id), groups.size());
    if (inserted) {
      groups.emplace_back();
      group_keys.push_back("fs:{" + hashed(f.fingerprint, ops[i].key) + "}");
    }
    groups[it->second].push_back(i);
  }
  if (groups.empty()) return StoreStatus::success();
  std::vector<std::string> args;
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  char buf[64];
  for (std::size_t g = 0; g < groups.size(); ++g) {
    const FeatureDef& f = rules.features[ops[groups[g][0]].feature];
    args.clear();
    args.push_back("EVALSHA");
    args.push_back(script_sha_);
    args.push_back("1");
    args.push_back(group_keys[g]);
    args.push_back(std::string(aggregation_name(f.agg)));
    args.push_back(std::to_string(f.buckets()));
    args.push_back(std::to_string(f.window_ms + f.resolution_ms));
    for (std::size_t i : groups[g]) {
      const FeatureOp& op = ops[i];
      args.push_back(std::to_string((op.update ? 1 : 0) + (op.read ? 2 : 0)));
      args.push_back(std::to_string(op.bucket));
      if (op.update && op.of.is_number() && f.agg != Aggregation::kCount && f.agg != Aggregation::kDistinct) {
        auto r = std::to_chars(buf, buf + sizeof buf, op.of.number);
        args.emplace_back(buf, r.ptr);
      } else {
        args.emplace_back();
      }
      if (op.update && f.agg == Aggregation::kDistinct && !op.of.is_null()) {
        args.push_back(hashed("v", op.of_text));
      } else {
        args.emplace_back();
      }
      args.push_back(op.partition >= 0 ? std::to_string(op.partition) : std::string());
      args.push_back(std::to_string(op.offset));
    }
    argv.clear();
    lens.clear();
    for (const auto& a : args) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    if (redisAppendCommandArgv(ctx_, static_cast<int>(argv.size()), argv.data(), lens.data()) != REDIS_OK) {
      std::string err = ctx_->errstr;
      disconnect();
      return StoreStatus::failure("redis: " + err);
    }
  }
  ++round_trips_;
  std::string first_error;
  for (std::size_t g = 0; g < groups.size(); ++g) {
    void* raw = nullptr;
    if (redisGetReply(ctx_, &raw) != REDIS_OK) {
      std::string err = ctx_->errstr;
      disconnect();
      return StoreStatus::failure("redis: " + err);
    }
    Reply r(static_cast<redisReply*>(raw));
    if (r->type == REDIS_REPLY_ERROR) {
      if (std::strncmp(r->str, "NOSCRIPT", 8) == 0) noscript = true;
      if (first_error.empty()) first_error = r->str;
      continue;
    }
    if (r->type != REDIS_REPLY_ARRAY) {
      if (first_error.empty()) first_error = "unexpected reply type";
      continue;
    }
    std::size_t k = 0;
    for (std::size_t i : groups[g]) {
      if (!ops[i].read) continue;
      if (k >= r->elements) break;
      const redisReply* e = r->element[k++];
      if (e->type != REDIS_REPLY_STRING || e->len == 0) {
        results[i] = Value::null();
        continue;
      }
      double d = 0;
      std::from_chars(e->str, e->str + e->len, d);
      results[i] = Value::of_number(d);
    }
  }
  if (!first_error.empty()) return StoreStatus::failure("redis: " + first_error);
  return StoreStatus::success();
}

}  // namespace fraud
