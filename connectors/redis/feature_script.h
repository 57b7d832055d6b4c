// The Lua script that settles one batch's feature operations for the
// (feature, entity) keys on one Redis node, atomically per call: every key
// but those the store creates with a plain SET NX (no stored value by its
// copy; see redis_feature_store.h).
//
// The engine computes each key's new state and read values itself, on the
// state it saw last (a cache in RedisFeatureStore), and sends the result with
// the stamp it expects the stored value to carry. The script checks the
// stamp: when it matches (nobody wrote since), it only stores the engine's
// new value (SET ... PX ttl, or KEEPTTL when the TTL was set recently); that
// is the common case and costs Redis an MGET share and a SET per key. When it
// does not match (another engine wrote, the key expired, or the engine had no
// copy: expected "?"), the script applies
// the key's ops itself: it loads the state, applies them in batch order
// (idempotency by source partition offsets, update before read), prunes
// the buckets that are not kept (window + max_lateness behind the newest), writes the state back (only if it
// changed) and returns the values and the stored state, which the engine
// caches. Both paths give the values of engine/window_state.h (the contract
// suite holds the script to them).
//
// One call per batch and node: the flag `allow-cross-slot-keys` (Redis 7)
// lets one call touch keys of many slots on the node that owns them all
// (such keys travel in ARGV: a cluster refuses declared keys of several
// slots). Loaded once per connection (SCRIPT LOAD), called by SHA (EVALSHA).
//
// KEYS     one state key (a single group, declared so a cluster routes it),
//          or none
// ARGV[1]  two flag characters: MGET allowed ('1': one plain node) and
//          return stored states of keys the script computed ('1')
// ARGV[2..] five per key:
//   key      `fs:{<hash>}`
//   expect   the stored value's 9-byte stamp the engine computed on, "" (no
//            value), or "?" (no copy: the script computes)
//   state    the value to store when the stamp matches: stamp + body (a new
//            stamp), or the new stamp alone when nothing changed; the
//            script's own writes also take this stamp
//   ttl      milliseconds the key lives after this write, decimal: window +
//            max_lateness + resolution + 1/8 slack; with a leading '-' the engine set the
//            TTL within the slack, so a write whose stamp matches keeps it
//            (SET KEEPTTL); the script's own writes always set it
//   ops      MessagePack array: agg (0 count, 1 sum, 2 min, 3 max, 4 avg,
//            5 distinct), n (buckets per window), L (late buckets), the
//            distinct cap (max_values), op count, then 6 items per op: flags
//            (1 update, 2 read), bucket, number (nil if not numeric),
//            distinct value hash (nil if none), partition (-1: none),
//            offset. Unpacked only when the script computes.
// Returns  MessagePack array: the number of distinct values not tracked (at
//          the cap); then for each key the script computed: its position
//          (1-based), its stored value (or false: none, or not asked for),
//          the number of read values, the values (false for null), the
//          number of too-late ops and their 1-based ordinals in the key's
//          ops.
//
// Stored value: stamp ("\xc1" + 8 bytes, see window_codec.h) + body, the
// body a MessagePack array: newest bucket, partition count, (partition,
// highest offset) pairs, then per bucket
//   count:        bucket, count
//   sum/min/...:  bucket, count, numeric count, sum, min, max
//   distinct:     value hash, bucket count, buckets...
// A value without the stamp (written by an older version) is read as a body.
#pragma once

#include <cstdint>

#include "engine/rule_set.h"

namespace fraud {

extern const char* const kFeatureScript;

// The script's code for an aggregation.
constexpr std::int64_t script_agg_code(Aggregation a) { return static_cast<std::int64_t>(a); }

}  // namespace fraud
