// The Lua script that applies one batch's feature operations for every
// (feature, entity) key on one Redis node, atomically per call: for each key
// it loads the state, applies the key's ops in batch order (idempotency by
// source partition offsets, update before read), prunes buckets two windows
// behind the newest, writes the state back (only if it changed) with a TTL
// of window + resolution, and collects the read values.
//
// One call per batch and node: the flag `allow-cross-slot-keys` (Redis 7)
// lets one call touch keys of many slots on the node that owns them all
// (such keys travel in ARGV: a cluster refuses declared keys of several
// slots). Loaded once per connection (SCRIPT LOAD), called by SHA (EVALSHA).
//
// KEYS     one state key `fs:{<hash>}` (a single group), or none
// ARGV[1]  MessagePack array: MGET allowed (1: one plain node) or not (0),
//          then per key:
//            agg (0 count, 1 sum, 2 min, 3 max, 4 avg, 5 distinct),
//            n (buckets per window), ttl_ms, op count, then 6 items per op:
//            flags (1 update, 2 read), bucket, number (nil if not numeric),
//            distinct value hash (nil if none), partition (-1: none), offset
// ARGV[2..] the state keys, one per (feature, entity) group, when KEYS is
//          empty
// Returns  MessagePack array: one item per read op in the same order, the
//          value or false for null.
//
// State (a MessagePack string per key): newest bucket, partition count,
// (partition, highest offset) pairs, then per bucket
//   count:        bucket, count
//   sum/min/...:  bucket, count, numeric count, sum, min, max
//   distinct:     value hash, bucket count, buckets...
#pragma once

#include <cstdint>

#include "engine/rule_set.h"

namespace fraud {

extern const char* const kFeatureScript;

// The script's code for an aggregation.
constexpr std::int64_t script_agg_code(Aggregation a) { return static_cast<std::int64_t>(a); }

}  // namespace fraud
