#include "connectors/redis/state_cache.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>

namespace fraud {

StateCache::StateCache(std::size_t capacity, std::size_t budget_bytes)
    : capacity_(std::min<std::size_t>(capacity, kEmpty - 1)), budget_(budget_bytes) {
  entries_.reserve(capacity_);
  if (capacity_ > 0) grow_index();  // now, not in the first apply (tens of ms for a million keys)
}

std::size_t StateCache::state_bytes(const WindowState& s) {
  std::size_t n = chunk_bytes(s.buckets.capacity() * sizeof(WindowBucket)) +
                  chunk_bytes(s.applied.capacity() * sizeof(s.applied[0]));
  if (s.distinct) {
    n += chunk_bytes(sizeof(*s.distinct)) + chunk_bytes(s.distinct->bucket_count() * sizeof(void*)) +
         s.distinct->size() * kDistinctValueBytes;
  }
  return n;
}

void StateCache::charge(Entry& e) {
  auto now = static_cast<std::uint32_t>(std::min<std::size_t>(state_bytes(e.state), UINT32_MAX));
  state_bytes_ = state_bytes_ - e.bytes + now;
  e.bytes = now;
}

void StateCache::account(Entry& e) {
  charge(e);
  // Copies grow between adds too (keys seen again): shrink here as well, so
  // the budget holds without new keys.
  shrink(e.batch);
}

void StateCache::shrink(std::uint64_t pinned) {
  for (std::size_t i = 0; i < kShrinkPerAdd && over_budget(0); ++i) {
    std::uint32_t v = victim(pinned);
    if (v == kEmpty) break;
    release(v, pinned);
  }
  return_pages();
}

void StateCache::forget(Entry& e, const char* stamp) {
  e.stamp = stamp;
  window_clear(e.state);
  e.ttl_sent_ms = kTtlUnknown;
  charge(e);
}

void StateCache::evict(std::uint32_t at, bool release) {
  Entry& old = entries_[at];
  erase_slot(old.digest);
  remember_evicted(old.digest);
  forget(old, "");
  if (release) {
    std::vector<WindowBucket>().swap(old.state.buckets);
    std::vector<std::pair<std::int32_t, std::int64_t>>().swap(old.state.applied);
  } else if (old.state.buckets.capacity() > kReusedKeepBuckets) {
    std::vector<WindowBucket> small;
    small.reserve(kReusedKeepBuckets);  // what most states need: no regrowth from empty
    old.state.buckets.swap(small);
  }
  charge(old);
  old.batch = 0;
  old.group = 0;
  ++evictions_;
}

std::size_t StateCache::find_slot(const Digest& d) const {
  for (std::size_t i = home(d[0]);; i = (i + 1) & mask_) {
    const Slot& s = index_[i];
    if (s.entry == kEmpty || (s.key == d[0] && entries_[s.entry].digest == d)) return i;
  }
}

std::uint32_t StateCache::find(const Digest& d) const { return index_.empty() ? kEmpty : index_[find_slot(d)].entry; }

bool StateCache::holds(const Digest& d) const { return find(d) != kEmpty; }

StateCache::Entry* StateCache::find_or_add(const Digest& d, std::uint64_t pinned) {
  if (capacity_ == 0) return nullptr;
  if (std::uint32_t found = find(d); found != kEmpty) {
    Entry& e = entries_[found];
    e.referenced = true;
    return &e;
  }
  shrink(pinned);  // over budget: release a few victims' memory first
  const bool room = entries_.size() < capacity_;
  std::uint32_t at = take_free();
  if (at == kEmpty) {
    // Full, or over budget: reuse a victim. A new entry when there is none
    // but room (over budget, every entry in use by this apply).
    if (!room || over_budget(sizeof(Entry))) at = victim(pinned);
    if (at != kEmpty) {
      evict(at, false);
    } else if (room) {
      at = static_cast<std::uint32_t>(entries_.size());
      entries_.emplace_back();
    } else {
      remember_evicted(d);  // no room: the store sends it to the script, which may store it
      return nullptr;
    }
  }
  Entry& e = entries_[at];
  e.digest = d;
  e.referenced = true;
  if (evicted_recently(d)) e.stamp = "?";
  if (entries_.size() * 2 > index_.size()) {
    grow_index();  // indexes every entry, this one included
  } else {
    insert_slot(d[0], at);
  }
  return &e;
}

void StateCache::release(std::uint32_t at, std::uint64_t pinned) {
  evict(at, true);
  entries_[at].free = true;
  free_.push_back(at);
  ++free_count_;
  auto drop_released_tail = [&] {
    while (!entries_.empty() && entries_.back().free) {
      entries_.pop_back();
      --free_count_;
    }
  };
  drop_released_tail();
  if (at < entries_.size() && entries_.back().batch != pinned) {
    // Fill the slot with the last entry (held: the released ones at the end
    // are gone), re-pointing its index slot; the slot's index in free_ goes
    // stale.
    const auto last = static_cast<std::uint32_t>(entries_.size() - 1);
    for (std::size_t i = home(entries_[last].digest[0]);; i = (i + 1) & mask_) {
      if (index_[i].entry == last) {
        index_[i].entry = at;
        break;
      }
    }
    entries_[at] = std::move(entries_[last]);
    --free_count_;
    entries_.pop_back();
    drop_released_tail();
  }
  if (free_count_ == 0) free_.clear();  // only stale indexes left
  if (hand_ >= entries_.size()) hand_ = 0;
}

std::uint32_t StateCache::take_free() {
  while (free_count_ > 0) {
    std::uint32_t at = free_.back();
    free_.pop_back();
    if (at >= entries_.size() || !entries_[at].free) continue;  // stale
    entries_[at].free = false;
    --free_count_;
    return at;
  }
  free_.clear();
  return kEmpty;
}

void StateCache::return_pages() {
  if (entries_.size() > touched_) touched_ = entries_.size();
  if ((touched_ - entries_.size()) * sizeof(Entry) < kReturnBytes) return;
  // Whole pages strictly past the last entry: no object lives there.
  const auto page = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
  auto from = reinterpret_cast<std::uintptr_t>(entries_.data() + entries_.size());
  auto to = reinterpret_cast<std::uintptr_t>(entries_.data() + touched_);
  from = (from + page - 1) / page * page;
  to = to / page * page;
  if (to > from) ::madvise(reinterpret_cast<void*>(from), to - from, MADV_DONTNEED);
  touched_ = entries_.size();
}

bool StateCache::consistent() const {
  std::size_t indexed = 0;
  for (const Slot& s : index_) {
    if (s.entry == kEmpty) continue;
    if (s.entry >= entries_.size() || entries_[s.entry].free || entries_[s.entry].digest[0] != s.key) return false;
    ++indexed;
  }
  return indexed == size();
}

std::size_t StateCache::evicted_bits() const {
  std::size_t bits = 1024;
  while (bits < 16 * 8 * most_keys()) bits *= 2;  // 16 bits per digest, 8 x the keys per generation
  return bits;
}

std::size_t StateCache::most_keys() const {
  return budget_ > 0 ? std::min(capacity_, budget_ / kKeyBytes + 1) : capacity_;
}

void StateCache::grow_index() {
  // Sized at once for the most keys the cache can hold: rebuilding the index
  // as it fills would stall the apply in progress for tens of ms (59 ms at
  // 524,288 entries: random writes into a 32 MB table).
  std::size_t size = 1024;
  while (size < 2 * std::max(most_keys(), entries_.size())) size *= 2;
  if (size <= index_.size()) size = index_.size() * 2;
  index_.assign(size, Slot{});
  mask_ = size - 1;
  fixed_bytes_ = index_.size() * sizeof(Slot) + 2 * evicted_bits() / 8;
  for (std::size_t i = 0; i < entries_.size(); ++i) {
    if (!entries_[i].free) insert_slot(entries_[i].digest[0], static_cast<std::uint32_t>(i));
  }
}

void StateCache::insert_slot(std::uint64_t key, std::uint32_t entry) {
  std::size_t i = home(key);
  while (index_[i].entry != kEmpty) i = (i + 1) & mask_;
  index_[i] = Slot{key, entry};
}

void StateCache::erase_slot(const Digest& d) {
  std::size_t p = find_slot(d);
  if (index_[p].entry == kEmpty) return;  // not indexed
  // Backward-shift deletion: pull later slots of the run into the hole when
  // their home does not lie cyclically in (hole, slot].
  index_[p] = Slot{};
  for (std::size_t j = (p + 1) & mask_; index_[j].entry != kEmpty; j = (j + 1) & mask_) {
    std::size_t k = home(index_[j].key);
    bool stays = p <= j ? (p < k && k <= j) : (p < k || k <= j);
    if (stays) continue;
    index_[p] = index_[j];
    index_[j] = Slot{};
    p = j;
  }
}

std::array<std::uint64_t, 2> StateCache::probes(const Digest& d, std::uint64_t mask) {
  // Mixed again (splitmix64's finaliser): the digest's second word is random
  // in the store, but need not be for other callers.
  std::uint64_t z = d[1] ^ (d[0] * 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  z ^= z >> 31;
  return {z & mask, (z >> 32) & mask};
}

void StateCache::remember_evicted(const Digest& d) {
  const std::size_t per_generation = 8 * most_keys();
  if (evicted_bits_[0].empty()) {
    const std::size_t bits = evicted_bits();
    evicted_bits_[0].assign(bits / 64, 0);
    evicted_bits_[1].assign(bits / 64, 0);
    evicted_mask_ = bits - 1;
  }
  if (evicted_in_newer_ >= per_generation) {
    std::swap(evicted_bits_[0], evicted_bits_[1]);
    std::fill(evicted_bits_[0].begin(), evicted_bits_[0].end(), 0);
    evicted_in_newer_ = 0;
  }
  for (std::uint64_t bit : probes(d, evicted_mask_)) evicted_bits_[0][bit / 64] |= std::uint64_t{1} << (bit % 64);
  ++evicted_in_newer_;
}

bool StateCache::evicted_recently(const Digest& d) const {
  if (evicted_bits_[0].empty()) return false;
  auto p = probes(d, evicted_mask_);
  for (const auto& bits : evicted_bits_) {
    bool all = true;
    for (std::uint64_t bit : p) all = all && (bits[bit / 64] >> (bit % 64) & 1);
    if (all) return true;
  }
  return false;
}

std::uint32_t StateCache::victim(std::uint64_t pinned) {
  for (std::size_t step = 0; step < 2 * entries_.size(); ++step) {
    auto at = static_cast<std::uint32_t>(hand_);
    hand_ = hand_ + 1 == entries_.size() ? 0 : hand_ + 1;
    Entry& e = entries_[at];
    if (e.batch == pinned || e.free) continue;
    if (e.referenced) {
      e.referenced = false;
      continue;
    }
    return at;
  }
  return kEmpty;
}

}  // namespace fraud
