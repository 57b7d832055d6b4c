// RedisFeatureStore, part: the per-node pipelined call of a batch: write,
// read, settle (redirects, retries, partial failures).
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

StoreStatus RedisStoreImpl::run_calls(const RuleSet& rules, std::span<const FeatureOp> ops, std::span<Value> results,
                                      std::vector<Call>& calls, std::vector<Call>& retry) {
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
    call.sent_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
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
    stats_.script_calls.add(call.script.empty() ? 0 : 1);
    if (!waited[call.node]) {
      waited[call.node] = 1;
      stats_.round_trips.add();
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
        stats_.keys_created.add();
        engine_state_stored(g, call.sent_ms);
        continue;
      }
      if (check && cr->type == REDIS_REPLY_INTEGER && cr->integer == 0) {  // still absent: the reads stand
        done_[gi] = 1;
        stats_.keys_checked_absent.add();
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
        (check ? stats_.absence_conflicts : stats_.create_conflicts).add();
        conflicts.push_back(gi);
      } else {
        stats_.redirects.add();
        retry.push_back({call.node, {gi}, false, {}});
      }
    }
    if (!conflicts.empty()) retry.push_back({call.node, std::move(conflicts), false, {}});
    auto settle_script = [&] {
      if (!r) return;
      if (routing_error(r.get())) {
        stats_.redirects.add();
        // Resend one key per call: the node then says where each key lives.
        if (starts_with(r.get(), "MOVED") || starts_with(r.get(), "ASK")) {
          std::string host;
          int port = 0;
          if (redirect_target(r.get(), host, port)) {
            int target = node_index(host, port);
            bool ask = starts_with(r.get(), "ASK");
            stats_.ask_redirects.add(ask ? 1 : 0);
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

}  // namespace fraud
