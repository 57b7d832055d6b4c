#include "connectors/redis/redis_feature_store.h"

#include <hiredis/hiredis.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <csignal>
#include <chrono>
#include <cstring>
#include <functional>
#include <memory>
#include <random>
#include <thread>

#include "connectors/redis/feature_script.h"
#include "connectors/redis/msgpack_lite.h"
#include "connectors/redis/window_codec.h"
#include "engine/sha256.h"

namespace fraud {

std::optional<std::vector<RedisEndpoint>> parse_redis_seeds(const std::string& url) {
  const std::string scheme = "redis://";
  if (url.rfind(scheme, 0) != 0) return std::nullopt;
  std::string rest = url.substr(scheme.size());
  while (!rest.empty() && rest.back() == '/') rest.pop_back();
  RedisEndpoint creds;
  auto at = rest.rfind('@');
  if (at != std::string::npos) {
    std::string cred = rest.substr(0, at);
    rest = rest.substr(at + 1);
    auto colon = cred.find(':');
    if (colon == std::string::npos) {
      creds.password = cred;
    } else {
      creds.user = cred.substr(0, colon);
      creds.password = cred.substr(colon + 1);
    }
  }
  std::vector<RedisEndpoint> seeds;
  std::size_t start = 0;
  while (start <= rest.size()) {
    std::size_t comma = rest.find(',', start);
    std::string hostport = rest.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    RedisEndpoint ep = creds;
    auto colon = hostport.rfind(':');
    if (colon != std::string::npos) {
      int port = 0;
      auto r = std::from_chars(hostport.data() + colon + 1, hostport.data() + hostport.size(), port);
      if (r.ec != std::errc() || r.ptr != hostport.data() + hostport.size() || port <= 0 || port > 65535) {
        return std::nullopt;
      }
      ep.port = port;
      hostport = hostport.substr(0, colon);
    }
    if (hostport.empty()) return std::nullopt;
    ep.host = hostport;
    seeds.push_back(std::move(ep));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  if (seeds.empty()) return std::nullopt;
  return seeds;
}

std::string redact_redis_url(const std::string& url) {
  auto at = url.rfind('@');
  auto start = url.find("://");
  if (at == std::string::npos) return url;
  start = start == std::string::npos ? 0 : start + 3;
  if (at < start) return url;
  auto colon = url.find(':', start);
  if (colon == std::string::npos || colon > at) return url.substr(0, start) + "***" + url.substr(at);  // a bare password
  return url.substr(0, colon + 1) + "***" + url.substr(at);
}

std::optional<RedisEndpoint> parse_redis_url(const std::string& url) {
  auto seeds = parse_redis_seeds(url);
  if (!seeds) return std::nullopt;
  return seeds->front();
}

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

bool starts_with(const redisReply* r, const char* prefix) {
  return r->type == REDIS_REPLY_ERROR && std::strncmp(r->str, prefix, std::strlen(prefix)) == 0;
}

// A reply that means "this key is not served here (now)": the slot map is
// stale or the slot is moving.
bool routing_error(const redisReply* r) {
  if (r->type != REDIS_REPLY_ERROR) return false;
  return starts_with(r, "MOVED") || starts_with(r, "ASK") || starts_with(r, "TRYAGAIN") ||
         starts_with(r, "CROSSSLOT") || std::strstr(r->str, "non local key") != nullptr;
}

// "MOVED 3999 127.0.0.1:6381" / "ASK ..." -> host, port.
bool redirect_target(const redisReply* r, std::string& host, int& port) {
  std::string_view s(r->str, r->len);
  auto space = s.rfind(' ');
  auto colon = s.rfind(':');
  if (space == std::string_view::npos || colon == std::string_view::npos || colon < space) return false;
  host = std::string(s.substr(space + 1, colon - space - 1));
  auto p = s.substr(colon + 1);
  return std::from_chars(p.data(), p.data() + p.size(), port).ec == std::errc();
}

}  // namespace

RedisFeatureStore::RedisFeatureStore(std::vector<RedisEndpoint> seeds, std::string salt, RedisStoreOptions options)
    : seeds_(std::move(seeds)),
      salt_(std::move(salt)),
      options_(options),
      cache_(options.mode == RedisCallMode::kPerBatch ? options.cache_keys : 0, options.cache_bytes) {
  // hiredis writes with write(2): a connection Redis closed (a restart, a
  // failover) would raise SIGPIPE and kill the process instead of failing a
  // call. Ignored unless the process installed its own handler.
  struct sigaction current {};
  if (::sigaction(SIGPIPE, nullptr, &current) == 0 && current.sa_handler == SIG_DFL) ::signal(SIGPIPE, SIG_IGN);
  std::random_device rd;
  stamp_seed_ = (static_cast<std::uint64_t>(rd()) << 32) ^ rd() ^
                static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
}

RedisFeatureStore::RedisFeatureStore(RedisEndpoint endpoint, std::string salt, int timeout_ms, RedisCallMode mode)
    : RedisFeatureStore(std::vector<RedisEndpoint>{std::move(endpoint)}, std::move(salt),
                        RedisStoreOptions{.timeout_ms = timeout_ms, .mode = mode}) {}

RedisFeatureStore::~RedisFeatureStore() {
  for (auto& n : nodes_) disconnect(n);
}

void RedisFeatureStore::disconnect(Node& n) {
  if (n.ctx) redisFree(n.ctx);
  n.ctx = nullptr;
}

StoreStatus RedisFeatureStore::connect() {
  std::lock_guard lock(mu_);
  if (!topology_known_) return refresh_topology();
  for (auto& n : nodes_) {
    StoreStatus st = connect_node(n);
    if (!st.ok) return st;
  }
  return StoreStatus::success();
}

StoreStatus RedisFeatureStore::connect_node(Node& n) {
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

std::string RedisFeatureStore::epoch_key_for(std::size_t node) const {
  if (!cluster_) return "fs:epoch";
  // A hash tag whose slot this master serves, so the key lives on it.
  for (std::uint32_t i = 0; i < 1'000'000; ++i) {
    std::string key = "fs:epoch:{" + std::to_string(i) + "}";
    std::uint16_t slot = redis_key_slot(key);
    if (slot < slot_node_.size() && slot_node_[slot] == static_cast<std::int16_t>(node)) return key;
  }
  return {};
}

StoreStatus RedisFeatureStore::check_epochs(bool& reset) {
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
      ++state_resets_;
      reset = true;
    }
    n.epoch = std::move(now);
  }
  return StoreStatus::success();
}

std::string RedisFeatureStore::describe(const Node& n) { return "redis " + n.host + ":" + std::to_string(n.port); }

std::string RedisFeatureStore::replicas_text() const {
  return std::to_string(options_.wait_replicas) + " replica(s)";
}

int RedisFeatureStore::node_index(const std::string& host, int port) {
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    if (nodes_[i].host == host && nodes_[i].port == port) return static_cast<int>(i);
  }
  nodes_.push_back({host, port, nullptr});
  return static_cast<int>(nodes_.size() - 1);
}

StoreStatus RedisFeatureStore::refresh_topology() {
  ++topology_refreshes_;
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

RedisFeatureStore::Digest RedisFeatureStore::digest_of(std::string_view a, std::string_view b) const {
  constexpr std::string_view kSep("\0", 1);
  auto md = sha256_of({salt_, kSep, a, kSep, b});
  Digest d;
  std::memcpy(d.data(), md.data(), sizeof d);
  return d;
}

void RedisFeatureStore::append_resp_header(std::string& out, char type, std::size_t n) {
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

RedisFeatureStore::Digest RedisFeatureStore::key_digest(const RuleSet& rules, const FeatureOp& op) const {
  if (op.key_digest != Digest{}) return op.key_digest;
  return digest_of(rules.features[op.feature].fingerprint, op.key);
}

RedisFeatureStore::Digest RedisFeatureStore::value_digest(const FeatureOp& op) const {
  if (op.value_digest != Digest{}) return op.value_digest;
  return digest_of("v", op.of_text);
}

void RedisFeatureStore::digest(const RuleSet& rules, std::span<FeatureOp> ops) const {
  for (FeatureOp& op : ops) {
    op.key_digest = key_digest(rules, op);
    if (op.update && rules.features[op.feature].agg == Aggregation::kDistinct && !op.of.is_null()) {
      op.value_digest = value_digest(op);
    }
  }
}

void RedisFeatureStore::key_text(const Digest& d, std::string& out) {
  out.assign("fs:{");
  append_base64url(out, d.data(), sizeof d);
  out.push_back('}');
}

std::vector<std::uint64_t> RedisFeatureStore::feature_fingerprints(const RuleSet& rules) {
  std::vector<std::uint64_t> out;
  out.reserve(rules.features.size());
  for (const FeatureDef& f : rules.features) out.push_back(std::hash<std::string_view>{}(f.fingerprint));
  return out;
}

void RedisFeatureStore::prefetch(const RuleSet& rules, std::span<const FeatureOp> ops) {
  if (options_.mode != RedisCallMode::kPerBatch || cache_.capacity() == 0 || ops.empty()) return;
  const std::vector<std::uint64_t> fingerprints = feature_fingerprints(rules);
  std::lock_guard lock(announced_mu_);
  for (const FeatureOp& op : ops) {
    if (announced_.size() >= kMaxPrefetch) break;
    if (op.key_digest == Digest{}) continue;  // not digested: its key is not known here
    announced_.push_back({op.key_digest, op.feature, fingerprints[op.feature], ops.data()});
  }
}

void RedisFeatureStore::plan_fetches(const RuleSet& rules, std::span<const FeatureOp> ops, std::vector<Call>& calls,
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

void RedisFeatureStore::install_fetches(const RuleSet& rules) {
  for (const Fetch& f : fetches_) {
    if (!f.answered) continue;
    CachedState* c = cache_.find_or_add(f.digest, apply_seq_);
    if (!c || c->stamp != "?") continue;  // no room, or known otherwise by now
    c->batch = apply_seq_;  // not released while the other fetches are installed
    ++keys_prefetched_;
    // Nil: Redis holds nothing (expired), so the later apply creates it.
    adopt_stored(*c, rules.features[f.feature],
                 f.exists ? std::optional<std::string_view>(f.value) : std::nullopt);
  }
}

void RedisFeatureStore::adopt_stored(CachedState& c, const FeatureDef& f, std::optional<std::string_view> stored) {
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

void RedisFeatureStore::Group::recycle() {
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

RedisFeatureStore::Group& RedisFeatureStore::new_group() {
  if (group_count_ == groups_.size()) groups_.emplace_back();
  Group& g = groups_[group_count_++];
  g.recycle();
  return g;
}

void RedisFeatureStore::group(const RuleSet& rules, std::span<const FeatureOp> ops) {
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

void RedisFeatureStore::next_stamp(std::string& out) {
  // splitmix64 of a per-store random seed and a counter: unique per write.
  std::uint64_t z = stamp_seed_ + 0x9e3779b97f4a7c15ull * ++stamp_counter_;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  z ^= z >> 31;
  out.assign(kStampSize, kStampMark);
  std::memcpy(out.data() + 1, &z, 8);
}

void RedisFeatureStore::hash_values(const RuleSet& rules, std::span<const FeatureOp> ops, const Group& g) {
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

void RedisFeatureStore::encode_ops(const FeatureDef& f, std::span<const FeatureOp> ops, Group& g) const {
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

void RedisFeatureStore::prepare(const RuleSet& rules, std::span<const FeatureOp> ops, std::span<Value> results,
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

StoreStatus RedisFeatureStore::decode(const RuleSet& rules, std::span<const FeatureOp> ops,
                                      std::span<Value> results, const Call& call, const redisReply* r) {
  if (r->type != REDIS_REPLY_STRING) return StoreStatus::failure("redis: unexpected reply type from the feature script");
  auto malformed = [] { return StoreStatus::failure("redis: malformed reply from the feature script"); };
  msgpack::Reader in(std::string_view(r->str, r->len));
  auto items = in.array_header();
  if (!items || *items < 1) return malformed();
  auto overflows = in.scalar();
  if (!overflows || overflows->kind != msgpack::Scalar::kNumber) return malformed();
  distinct_overflows_ += static_cast<std::uint64_t>(overflows->number);
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
      return StoreStatus::failure("redis: feature script answered " + std::to_string(nreads->number) +
                                  " values for " + std::to_string(reads) + " reads");
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
    adopt_stored(*g.cached, rules.features[g.feature],
                 stored->kind == msgpack::Scalar::kString ? std::optional<std::string_view>(stored->text)
                                                          : std::nullopt);
  }
  script_computed_ += static_cast<std::uint64_t>(std::count(by_script.begin(), by_script.end(), 1));
  for (std::size_t at = 0; at < call.script.size(); ++at) {
    if (by_script[at]) continue;
    // The stamp matched: Redis holds the engine's value now (or still the
    // old one when nothing changed).
    engine_state_stored(groups_[call.script[at]], call.sent_ms);
  }
  return StoreStatus::success();
}

void RedisFeatureStore::engine_state_stored(Group& g, std::int64_t sent_ms) {
  ++engine_computed_;
  distinct_overflows_ += g.overflows;
  if (!g.cached || g.state.size() <= kStampSize) return;  // nothing was written
  g.cached->stamp = std::string_view(g.state).substr(0, kStampSize);
  if (!g.keep_ttl) g.cached->ttl_sent_ms = sent_ms;
}

StoreStatus RedisFeatureStore::run_calls(const RuleSet& rules, std::span<const FeatureOp> ops,
                                         std::span<Value> results, std::vector<Call>& calls,
                                         std::vector<Call>& retry) {
  static const std::string kEvalSha = "EVALSHA";
  static const std::string kOne = "1";
  static const std::string kZero = "0";
  static const std::string kSet = "SET";
  static const std::string kNx = "NX";
  static const std::string kPx = "PX";
  static const std::string kGet = "GET";
  static const std::string kExists = "EXISTS";
  const bool want_state = options_.mode == RedisCallMode::kPerBatch && options_.cache_keys > 0;
  StoreStatus status = StoreStatus::success();
  std::vector<bool> sent(calls.size(), false);
  // Per node: its connection failed (nothing more is read from it), and
  // whether this pass sent it anything (one round trip however many calls).
  std::vector<char> broken(nodes_.size() + 1, 0);
  std::vector<char> waited(nodes_.size() + 1, 0);
  std::vector<char> reload(nodes_.size() + 1, 0);  // NOSCRIPT: reconnect once its replies are read
  // Write every call (all nodes) before reading any reply.
  for (std::size_t c = 0; c < calls.size(); ++c) {
    Call& call = calls[c];
    Node& node = nodes_[call.node];
    if (broken[call.node]) continue;  // its other calls failed already (no second connect timeout)
    StoreStatus st = connect_node(node);
    if (!st.ok) {
      topology_known_ = false;  // a master may have failed over
      if (status.ok) status = st;
      broken[call.node] = 1;
      continue;
    }
    // Computed just before it is sent, so the engine works on the next call
    // while Redis runs this one.
    call.sent_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::steady_clock::now().time_since_epoch())
                       .count();
    prepare(rules, ops, results, call.groups, call.sent_ms);
    call.creates.clear();
    call.absents.clear();
    call.script.clear();
    for (std::uint32_t g : call.groups) {
      (groups_[g].create ? call.creates : groups_[g].absent ? call.absents : call.script).push_back(g);
    }
    // The call's commands, formatted straight into one RESP buffer (no
    // per-command formatting in hiredis) and handed over at once.
    std::string& out = resp_;
    out.clear();
    auto command = [&](std::size_t args) { append_resp_header(out, '*', args); };
    auto arg = [&](std::string_view s) {
      append_resp_header(out, '$', s.size());
      out.append(s);
      out.append("\r\n");
    };
    if (call.asking) {
      command(1);
      arg("ASKING");
    }
    for (std::uint32_t g : call.creates) {
      const Group& grp = groups_[g];
      command(6);
      arg(kSet);
      arg(grp.key);
      arg(grp.state);
      arg(kNx);
      arg(kPx);
      arg(ttl_args_[grp.feature].set);
    }
    for (std::uint32_t g : call.absents) {
      command(2);
      arg(kExists);
      arg(groups_[g].key);
    }
    if (!call.script.empty()) {
      // Several groups: keys travel in ARGV (a script may then touch keys of
      // many slots on the node that owns them); one group: the key is
      // declared, so the cluster answers MOVED/ASK before running anything.
      bool declared = call.script.size() == 1;
      call.flags.assign(1, !cluster_ && !declared ? '1' : '0');
      call.flags.push_back(want_state ? '1' : '0');
      command(4 + (declared ? 1 : 0) + 5 * call.script.size());
      arg(kEvalSha);
      arg(script_sha_);
      arg(declared ? kOne : kZero);
      if (declared) arg(groups_[call.script[0]].key);
      arg(call.flags);
      for (std::uint32_t g : call.script) {
        const Group& grp = groups_[g];
        arg(grp.key);
        arg(grp.expect);
        arg(grp.state);
        arg(grp.keep_ttl ? ttl_args_[grp.feature].keep : ttl_args_[grp.feature].set);
        arg(grp.ops_blob);
      }
    }
    if (options_.wait_replicas > 0) {
      command(3);
      arg("WAIT");
      arg(std::to_string(options_.wait_replicas));
      arg(std::to_string(options_.timeout_ms / 2));
    }
    for (std::uint32_t f : call.fetches) {
      command(2);
      arg(kGet);
      arg(fetches_[f].key);
    }
    redisAppendFormattedCommand(node.ctx, out.data(), out.size());
    // Hand it to Redis now (the socket is blocking: this returns once written).
    int written = 0;
    while (!written) {
      if (redisBufferWrite(node.ctx, &written) != REDIS_OK) break;
    }
    if (!written) {
      if (status.ok) status = StoreStatus::failure(describe(node) + ": " + node.ctx->errstr);
      broken[call.node] = 1;
      continue;
    }
    sent[c] = true;
    script_calls_ += call.script.empty() ? 0 : 1;
    if (!waited[call.node]) {
      waited[call.node] = 1;
      ++round_trips_;
    }
  }
  for (std::size_t c = 0; c < calls.size(); ++c) {
    if (!sent[c] || broken[calls[c].node]) continue;
    Call& call = calls[c];
    Node& node = nodes_[call.node];
    auto next = [&]() -> Reply {
      void* raw = nullptr;
      if (redisGetReply(node.ctx, &raw) != REDIS_OK) return nullptr;
      return Reply(static_cast<redisReply*>(raw));
    };
    // Replies in the order written: ASKING, the SET NX writes, the EXISTS
    // checks, the script, WAIT, the GETs.
    Reply asking = call.asking ? next() : nullptr;
    bool lost = call.asking && !asking;
    std::vector<Reply> created;
    created.reserve(call.creates.size() + call.absents.size());
    for (std::size_t i = 0; !lost && i < call.creates.size() + call.absents.size(); ++i) {
      created.push_back(next());
      lost = !created.back();
    }
    Reply r = !lost && !call.script.empty() ? next() : nullptr;
    lost = lost || (!call.script.empty() && !r);
    Reply wait = !lost && options_.wait_replicas > 0 ? next() : nullptr;
    lost = lost || (options_.wait_replicas > 0 && !wait);
    for (std::size_t i = 0; !lost && i < call.fetches.size(); ++i) {
      Reply fetched = next();
      lost = !fetched;
      if (lost) break;
      Fetch& f = fetches_[call.fetches[i]];
      f.exists = fetched->type == REDIS_REPLY_STRING;
      f.answered = f.exists || fetched->type == REDIS_REPLY_NIL;  // else an error: left to the script
      if (f.exists) f.value.assign(fetched->str, fetched->len);
    }
    std::string where = describe(node);
    if (lost) {
      if (status.ok) status = StoreStatus::failure(where + ": " + node.ctx->errstr);
      broken[call.node] = 1;
      continue;
    }
    bool wrote = false;  // some key of the call is done: its write must reach the replicas
    std::vector<std::uint32_t> conflicts;
    const std::size_t n_creates = call.creates.size();
    for (std::size_t i = 0; i < created.size(); ++i) {
      const bool check = i >= n_creates;  // an EXISTS (else a SET NX)
      std::uint32_t gi = check ? call.absents[i - n_creates] : call.creates[i];
      Group& g = groups_[gi];
      const redisReply* cr = created[i].get();
      if (!check && cr->type == REDIS_REPLY_STATUS) {  // OK: created with the engine's state
        done_[gi] = 1;
        wrote = true;
        ++keys_created_;
        engine_state_stored(g, call.sent_ms);
        continue;
      }
      if (check && cr->type == REDIS_REPLY_INTEGER && cr->integer == 0) {  // still absent: the reads stand
        done_[gi] = 1;
        ++keys_checked_absent_;
        engine_state_stored(g, call.sent_ms);  // (nothing was written)
        continue;
      }
      if (cr->type == REDIS_REPLY_ERROR && !routing_error(cr)) {
        if (status.ok) status = StoreStatus::failure(where + ": " + std::string(cr->str, cr->len));
        continue;
      }
      // The key is there after all (SET NX: nil; EXISTS: 1), or lives
      // elsewhere (a routing error): the script settles it, one key per call
      // after a redirect.
      g.create = false;
      g.absent = false;
      hash_values(rules, ops, g);
      encode_ops(rules.features[g.feature], ops, g);
      if (cr->type != REDIS_REPLY_ERROR) {
        ++(check ? absence_conflicts_ : create_conflicts_);
        conflicts.push_back(gi);
      } else {
        ++redirects_;
        retry.push_back({call.node, {gi}, false, {}});
      }
    }
    if (!conflicts.empty()) retry.push_back({call.node, std::move(conflicts), false, {}});
    auto settle_script = [&] {
      if (!r) return;
      if (routing_error(r.get())) {
        ++redirects_;
        // Resend one key per call: the node then says where each key lives.
        if (starts_with(r.get(), "MOVED") || starts_with(r.get(), "ASK")) {
          std::string host;
          int port = 0;
          if (redirect_target(r.get(), host, port)) {
            int target = node_index(host, port);
            bool ask = starts_with(r.get(), "ASK");
            asks_ += ask ? 1 : 0;
            if (!ask && cluster_) slot_node_[groups_[call.script[0]].slot] = static_cast<std::int16_t>(target);
            retry.push_back({target, call.script, ask, {}});
            return;
          }
        }
        if (starts_with(r.get(), "TRYAGAIN")) std::this_thread::sleep_for(std::chrono::milliseconds(20));
        if (call.script.size() > 1) topology_known_ = false;
        for (std::uint32_t g : call.script) retry.push_back({call.node, {g}, false, {}});
        return;
      }
      if (starts_with(r.get(), "NOSCRIPT")) {
        // The node restarted and lost its scripts: reconnect (reloads) and
        // resend (after the other replies on this connection are read).
        reload[call.node] = 1;
        retry.push_back({call.node, call.script, false, {}});
        return;
      }
      if (r->type == REDIS_REPLY_ERROR) {
        if (status.ok) status = StoreStatus::failure(where + ": " + std::string(r->str, r->len));
        return;
      }
      StoreStatus st = decode(rules, ops, results, call, r.get());
      if (!st.ok) {
        if (status.ok) status = st;
        return;
      }
      for (std::uint32_t g : call.script) done_[g] = 1;
      wrote = true;
    };
    settle_script();
    if (wrote && wait && (wait->type != REDIS_REPLY_INTEGER || wait->integer < options_.wait_replicas)) {
      // The writes ran: their values stand (the groups are done), but the
      // batch may only succeed once they reached the replicas: the retry
      // WAITs again (not here: other calls' replies may be queued on this
      // connection).
      unreplicated_.push_back(call.node);
      if (status.ok) status = StoreStatus::failure(where + ": writes not yet on " + replicas_text());
    }
  }
  for (std::size_t n = 0; n < broken.size() && n < nodes_.size(); ++n) {
    if (broken[n] || reload[n]) disconnect(nodes_[n]);
    if (broken[n]) topology_known_ = false;
  }
  return status;
}

std::uint64_t RedisFeatureStore::fingerprint(std::span<const FeatureOp> ops) {
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

StoreStatus RedisFeatureStore::apply(const RuleSet& rules, std::span<const FeatureOp> ops, std::span<Value> results) {
  std::lock_guard lock(mu_);
  // Creates (and absence checks) while few of them conflict; else only every
  // kCreateProbeEvery-th apply, to notice when they would pay again.
  const bool probe = !creating() && ++applies_without_creates_ % kCreateProbeEvery == 0;
  create_this_apply_ = creating() || probe;
  const std::uint64_t created_before = keys_created_ + keys_checked_absent_;
  const std::uint64_t conflicts_before = create_conflicts_ + absence_conflicts_;
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
  const auto created = static_cast<double>(keys_created_ + keys_checked_absent_ - created_before);
  const auto conflicts = static_cast<double>(create_conflicts_ + absence_conflicts_ - conflicts_before);
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

StoreStatus RedisFeatureStore::apply_locked(const RuleSet& rules, std::span<const FeatureOp> ops,
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
      if (!node.ctx) return StoreStatus::failure(describe(node) + ": connection lost before its writes were replicated");
      Reply w(static_cast<redisReply*>(redisCommand(node.ctx, "WAIT %d %d", options_.wait_replicas, options_.timeout_ms / 2)));
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

StoreStatus RedisFeatureStore::run_until_settled(const RuleSet& rules, std::span<const FeatureOp> ops,
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
