// StateCache: the Redis store's copies of stored feature states, by key
// digest, at most `capacity` of them (a copy is only a guess at what Redis
// holds; the store's stamp check makes a wrong or missing copy cost a script
// computation, never a wrong value).
//
// Layout, for lookups that touch one cache line of the index and then the
// entry: a flat open-addressing index (linear probing on the digest's first
// word, which is uniformly random, at most half full) over a fixed array of
// entries whose addresses never change. When the cache is full, CLOCK
// eviction picks the entry to reuse: a hand sweeps the entries, clearing
// each one's `referenced` bit, and takes the first it finds clear (an entry
// not looked up since the hand last passed). A reused entry keeps its
// buffers' capacity, so the steady state allocates nothing.
//
// Entries grouped by the apply in progress (`batch == pinned`) are never
// evicted: pointers handed out during one apply stay valid for that apply.
//
// Ghosts: the digests of recently evicted entries are remembered in a Bloom
// filter, so the store can tell a key it knew (its state is in Redis) from
// one it never saw. Two generations, each taking kGhostsPerEntry x capacity
// digests (at most kMaxGhosts) at 16 bits each, about 5% false positives:
// 8 MB in all for 65,536 entries, 16 MB at most.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "engine/window_state.h"

namespace fraud {

class StateCache {
 public:
  using Digest = std::array<std::uint64_t, 2>;
  static constexpr std::int64_t kTtlUnknown = INT64_MIN;
  static constexpr std::size_t kGhostsPerEntry = 32;  // per generation
  static constexpr std::size_t kMaxGhosts = std::size_t{1} << 22;

  struct Entry {
    Digest digest{};
    std::string stamp;  // the stored value's stamp as last seen; "": no value; "?": unknown
    WindowState state;
    std::uint64_t batch = 0;  // the apply that last grouped it, and its group there
    std::uint32_t group = 0;
    bool referenced = false;  // looked up since the CLOCK hand last passed
    // When the store last sent a write of the stored value that set its TTL
    // (steady clock, ms; kTtlUnknown: not since the copy was taken).
    std::int64_t ttl_sent_ms = kTtlUnknown;
  };

  explicit StateCache(std::size_t capacity);

  // The entry of `d`, added (stamp "": no stored value) if absent. Null when
  // the cache holds nothing (capacity 0) or every entry is pinned by the
  // apply `pinned` (more keys in one batch than the capacity). `added`, if
  // given, tells whether the entry is new (no copy was kept).
  Entry* find_or_add(const Digest& d, std::uint64_t pinned, bool* added = nullptr);

  // Whether `d` has an entry (a lookup that does not count as a use).
  bool contains(const Digest& d) const;
  // Whether `d` was probably evicted lately (see Ghosts above).
  bool evicted_lately(const Digest& d) const;

  // Forgets the copy: what Redis holds is now unknown ("?") or absent ("").
  static void forget(Entry& e, const char* stamp);

  std::size_t size() const { return entries_.size(); }
  std::size_t capacity() const { return capacity_; }
  std::uint64_t evictions() const { return evictions_; }

 private:
  static constexpr std::uint32_t kEmpty = UINT32_MAX;
  struct Slot {
    std::uint64_t key = 0;        // digest[0]
    std::uint32_t entry = kEmpty;  // index into entries_
  };

  std::size_t home(std::uint64_t key) const { return static_cast<std::size_t>(key) & mask_; }
  void grow_index();
  void insert_slot(std::uint64_t key, std::uint32_t entry);
  void erase_slot(const Digest& d);
  std::uint32_t lookup(const Digest& d) const;  // kEmpty: absent
  void remember_evicted(const Digest& d);
  // A ghost's word in the filter and its two bits there (one cache line per
  // lookup: a blocked Bloom filter).
  std::pair<std::size_t, std::uint64_t> ghost_bits(const Digest& d) const;
  std::uint32_t victim(std::uint64_t pinned);  // kEmpty: none

  std::size_t capacity_;
  std::vector<Entry> entries_;  // reserved to capacity: addresses stable
  std::vector<Slot> index_;
  std::size_t mask_ = 0;
  std::size_t hand_ = 0;
  std::uint64_t evictions_ = 0;
  std::vector<std::uint64_t> ghosts_[2];  // Bloom filter words; [0] current generation
  std::size_t ghost_count_ = 0;           // digests added to the current generation
  std::size_t ghost_limit_ = 0;           // digests a generation takes
  std::size_t ghost_mask_ = 0;            // words per generation - 1
};

}  // namespace fraud
