// StateCache: the Redis store's copies of stored feature states, by key
// digest, at most `capacity` of them (a copy is only a guess at what Redis
// holds; the store's stamp check makes a wrong or missing copy cost a script
// computation, never a wrong value).
//
// Layout, for lookups that touch one cache line of the index and then the
// entry: a flat open-addressing index (linear probing on the digest's first
// word, which is uniformly random, at most half full; allocated up front
// for the most keys the cache can hold, 2-4 16-byte slots per key, so it is
// not rebuilt as the cache fills) over an array of entries reserved to the
// capacity (an entry moves only when memory is released, see below, and
// never while the apply in progress holds it). When the cache is full, CLOCK
// eviction picks the entry to reuse: a hand sweeps the entries, clearing
// each one's `referenced` bit, and takes the first it finds clear (an entry
// not looked up since the hand last passed). An entry reused for another
// key keeps a bucket buffer of up to kReusedKeepBuckets, so the steady state
// allocates little and the cache's memory follows the states it holds, not
// the biggest state each entry ever held (65,536 entries x 120 buckets of a
// 1-minute window would be 300 MB). A key's own copy, refreshed from Redis,
// keeps its capacity.
//
// Memory budget: besides `capacity` (entries), the cache may be bounded in
// bytes (`budget_bytes`, 0: entries only). The charge is the memory the
// copies really take: the index and the evicted-key memory (fixed, sized up
// front for the most keys the budget can hold: budget / kKeyBytes), every
// slot of the entry array (sizeof(Entry)), and an estimate of each state's
// heap (buffers by capacity, as the allocator's chunks: 8 bytes of header,
// rounded up to 16, at least 32; distinct values at kDistinctValueBytes
// each). The store calls `account` after it changes a copy; a new key that
// would take the cache over budget reuses a CLOCK victim instead of a new
// entry, and while over budget each add (and each `account`) frees up to
// kShrinkPerAdd more victims, whose buffers are released, so the cache shrinks back as its
// states grow (a long window's buckets, a hot key's distinct values) and its
// memory follows the budget, not the number of keys times the biggest
// state. A released victim's slot in the array is filled by the array's
// last entry (moved; unless the apply in progress holds it, then the slot
// waits on a free list and is reused first), and the array's pages past its
// end go back to the system, so the array shrinks with the keys held.
// (2026-11-29: charging each key held a flat 216 bytes for its entry, index
// slots and evicted-key memory, released slots nothing and states their
// bare sizes, a soak's charge stayed flat while RSS grew by a third: as
// states grew and keys were released, the index and the evicted-key memory
// stayed, released slots stayed, and the allocator's share of the small
// buffers that replaced them was not counted.)
//
// Entries grouped by the apply in progress (`batch == pinned`) are never
// evicted or moved: pointers handed out during one apply stay valid for that apply.
//
// Evicted keys are remembered, approximately (and so are keys refused for
// want of room: the store settles those without a copy, and they may be
// stored by then): a new entry whose digest was evicted recently starts with
// stamp "?" (Redis likely holds a value this cache no longer knows), any
// other new entry with "" (no stored value, as far as this process knows:
// the store creates it with a plain SET NX). The memory is two generations
// of a Bloom filter (16 bits and 2 probes per digest: ~1.4% false positives
// each; 32 bytes per entry of the cache in all), each taking up to 8 x
// capacity evictions; when the newer one is full the older one is cleared
// and takes its place, so the last 8-16 x capacity evictions are remembered.
// With a byte budget, "capacity" here is the most keys the budget can hold
// (budget / kKeyBytes) when that is fewer.
// A wrong guess either way costs the store a script computation, never a
// wrong value.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "connectors/redis/window_codec.h"
#include "engine/window_state.h"

namespace fraud {

class StateCache {
 public:
  using Digest = std::array<std::uint64_t, 2>;
  static constexpr std::int64_t kTtlUnknown = INT64_MIN;
  static constexpr std::size_t kReusedKeepBuckets = 16;
  static constexpr std::size_t kDistinctValueBytes = 144;  // node, value, its bucket list, allocator slack
  static constexpr std::size_t kShrinkPerAdd = 2;

  // A stored value's stamp as last seen (window_codec.h: kStampSize bytes),
  // "" (no value) or "?" (unknown), held inline: a std::string would take
  // 32 bytes of every entry for 9.
  class Stamp {
   public:
    Stamp& operator=(std::string_view s) {
      size_ = static_cast<std::uint8_t>(std::min(s.size(), sizeof bytes_));
      std::copy_n(s.data(), size_, bytes_);
      return *this;
    }
    std::string_view view() const { return {bytes_, size_}; }
    operator std::string_view() const { return view(); }
    bool empty() const { return size_ == 0; }
    friend bool operator==(const Stamp& a, std::string_view b) { return a.view() == b; }

   private:
    char bytes_[kStampSize];
    std::uint8_t size_ = 0;
  };

  // Fields ordered for packing: 128 bytes.
  struct Entry {
    Digest digest{};
    WindowState state;
    std::uint64_t batch = 0;  // the apply that last grouped it, and its group there
    // When the store last sent a write of the stored value that set its TTL
    // (steady clock, ms; kTtlUnknown: not since the copy was taken).
    std::int64_t ttl_sent_ms = kTtlUnknown;
    std::uint32_t group = 0;
    std::uint32_t bytes = 0;  // its state's heap as last accounted
    Stamp stamp;              // the stored value's stamp as last seen
    bool referenced = false;  // looked up since the CLOCK hand last passed
    bool free = false;        // released for want of memory: holds no key, reused first
  };
  static_assert(sizeof(Entry) <= 128, "an entry is charged to the budget for every key held");
  // What a key with an empty state takes in all: its entry, two 16-byte
  // index slots (the index is at most half full), 32 bytes of evicted-key
  // memory. Sizes the index and the evicted-key memory for a budget.
  static constexpr std::size_t kKeyBytes = sizeof(Entry) + 2 * 16 + 32;
  // A buffer of `n` bytes as the allocator holds it (glibc: 8 bytes of
  // header, 16-byte granules, 32 bytes at least).
  static constexpr std::size_t chunk_bytes(std::size_t n) {
    return n == 0 ? 0 : std::max<std::size_t>(32, (n + 8 + 15) / 16 * 16);
  }

  explicit StateCache(std::size_t capacity, std::size_t budget_bytes = 0);

  // The entry of `d`, added if absent (stamp "?" if `d` was evicted
  // recently, else "": no stored value). Null when the cache holds nothing
  // (capacity 0) or every entry is pinned by the apply `pinned` (more keys in
  // one batch than the capacity).
  Entry* find_or_add(const Digest& d, std::uint64_t pinned);
  // Whether `d` has a copy here (no lookup side effects: the CLOCK bit stays).
  bool holds(const Digest& d) const;
  // Hints for a lookup of `d` coming soon (a batch's keys are known ahead):
  // the index slot `d` hashes to, and, once that slot is cached, the entry it
  // names if it is `d`'s. Each index slot and entry is a cache miss on a
  // cache of hundreds of MB; the store issues these a few keys ahead.
  void prefetch_slot(const Digest& d) const {
    if (!index_.empty()) __builtin_prefetch(&index_[home(d[0])]);
  }
  void prefetch_entry(const Digest& d) const {
    if (index_.empty()) return;
    const Slot& s = index_[home(d[0])];
    if (s.entry != kEmpty && s.key == d[0]) __builtin_prefetch(&entries_[s.entry]);
  }
  // Whether `d` was evicted (or refused for want of room) recently, so Redis
  // likely holds a value this cache no longer knows (approximate, see above).
  bool evicted_recently(const Digest& d) const;

  // Forgets the copy: what Redis holds is now unknown ("?") or absent ("").
  void forget(Entry& e, const char* stamp);
  // Charges `e` for its state's current heap (call after changing it). While
  // that leaves the cache over budget, releases up to kShrinkPerAdd other
  // copies, never one of the apply `e` belongs to (`e.batch`): a copy that
  // grows takes the budget back even when no new key comes.
  void account(Entry& e);
  // An estimate of a state's heap (see above).
  static std::size_t state_bytes(const WindowState& s);

  // Entries holding a key.
  std::size_t size() const { return entries_.size() - free_count_; }
  // Slots of the array: entries holding a key and released ones.
  std::size_t slots() const { return entries_.size(); }
  std::size_t capacity() const { return capacity_; }
  // The memory charged (see above): what the budget bounds.
  std::size_t bytes() const { return fixed_bytes_ + entries_.size() * sizeof(Entry) + state_bytes_; }
  // Of which the index and the evicted-key memory.
  std::size_t fixed_bytes() const { return fixed_bytes_; }
  std::uint64_t evictions() const { return evictions_; }
  // Invariant check for tests (O(index)): every index slot names a held
  // entry with that key, and every held entry has one.
  bool consistent() const;

 private:
  static constexpr std::uint32_t kEmpty = UINT32_MAX;
  struct Slot {
    std::uint64_t key = 0;         // digest[0]
    std::uint32_t entry = kEmpty;  // index into entries_
  };

  std::size_t home(std::uint64_t key) const { return static_cast<std::size_t>(key) & mask_; }
  // The most keys the cache can hold: its capacity, or what the budget holds
  // at the fixed charge alone.
  std::size_t most_keys() const;
  void grow_index();
  std::size_t evicted_bits() const;  // bits per generation of the evicted-key memory
  // The index slot holding `d`, or the empty slot ending its probe run (the
  // index must not be empty).
  std::size_t find_slot(const Digest& d) const;
  std::uint32_t find(const Digest& d) const;  // its entry, kEmpty if none
  void insert_slot(std::uint64_t key, std::uint32_t entry);
  void erase_slot(const Digest& d);
  std::uint32_t victim(std::uint64_t pinned);  // kEmpty: none
  // Drops the key of entry `at` (remembered as evicted) and trims its buffers
  // to kReusedKeepBuckets for the next key, or releases them (`release`).
  void evict(std::uint32_t at, bool release);
  void charge(Entry& e);  // account() without the shrinking
  // While over budget, releases up to kShrinkPerAdd victims (never one held
  // by the apply `pinned`), then returns the array's pages past its end.
  void shrink(std::uint64_t pinned);
  // Releases entry `at` for want of memory: evicts it with its buffers and
  // fills its slot with the array's last entry, or puts it on the free list
  // when that one is held by the apply `pinned`.
  void release(std::uint32_t at, std::uint64_t pinned);
  // A released entry to reuse, kEmpty if none.
  std::uint32_t take_free();
  // Gives the pages of the array past its end back to the system once they
  // add up to kReturnBytes.
  void return_pages();
  static constexpr std::size_t kReturnBytes = std::size_t{1} << 20;
  bool over_budget(std::size_t extra) const { return budget_ > 0 && bytes() + extra > budget_; }
  // The evicted digests' memory (see above).
  void remember_evicted(const Digest& d);
  static std::array<std::uint64_t, 2> probes(const Digest& d, std::uint64_t mask);

  std::size_t capacity_;
  std::size_t budget_;
  std::size_t state_bytes_ = 0;  // sum of entries' `bytes`
  std::size_t fixed_bytes_ = 0;  // index and evicted-key memory, allocated or to be
  // Entries released for want of memory, and how many (free_ may also hold
  // stale indexes: slots since dropped from the end or reused).
  std::vector<std::uint32_t> free_;
  std::size_t free_count_ = 0;
  std::vector<Entry> entries_;  // reserved to capacity: never reallocated (entries move only in release())
  std::size_t touched_ = 0;     // slots whose pages may be resident (high-water since the last return)
  std::vector<Slot> index_;
  std::size_t mask_ = 0;
  std::size_t hand_ = 0;
  std::uint64_t evictions_ = 0;
  std::vector<std::uint64_t> evicted_bits_[2];  // [newer], [older]; allocated at the first eviction
  std::uint64_t evicted_mask_ = 0;              // bit index mask (bits per generation - 1)
  std::size_t evicted_in_newer_ = 0;
};

}  // namespace fraud
