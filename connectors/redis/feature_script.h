// The Lua script that applies one (feature, entity) group of a batch inside
// Redis atomically: it loads the entity's hash, applies the ops in order
// (idempotency by source partition offsets, update before read), writes back
// only what changed, prunes buckets two windows behind the newest, and
// refreshes the TTL. Loaded once per connection (SCRIPT LOAD), called by SHA.
//
// KEYS[1]  the entity's state hash
// ARGV     agg, n (buckets per window), ttl_ms, then 6 values per op:
//          flags (1 update, 2 read), bucket, number ("" if not numeric),
//          distinct value hash ("" if none), partition ("" if none), offset
// Returns  one string per read op: the value, or "" for null.
//
// Hash fields: "n" newest bucket; "b<bucket>" = "count numeric sum min max";
// "d<bucket>:<value hash>" = 1 for distinct; "p<partition>" = highest offset.
#pragma once

namespace fraud {
extern const char* const kFeatureScript;
}
