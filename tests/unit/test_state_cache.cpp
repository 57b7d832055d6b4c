// StateCache (connectors/redis/state_cache.h): a bounded map from key digest
// to the Redis store's copy of a state. Checked against a plain model: what
// it finds is what was put there, it never holds more than its capacity,
// entries looked up since the CLOCK hand last passed survive an eviction,
// entries of the apply in progress are never evicted, a reused entry
// starts empty, and a key evicted recently comes back as unknown ("?": Redis
// likely holds a value) while a key never seen comes back as absent ("").
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>

#include "connectors/redis/state_cache.h"

using namespace fraud;

namespace {

StateCache::Digest digest(std::uint64_t n) {
  // Spread like the store's SHA-256 digests, plus a few colliding first words.
  std::uint64_t z = n * 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 31)) * 0xbf58476d1ce4e5b9ull;
  return {n % 7 == 0 ? 42 : z, n};
}

}  // namespace

TEST(StateCache, FindsWhatWasAddedAndStaysWithinCapacity) {
  StateCache cache(1000);
  std::map<std::uint64_t, std::string> model;  // key -> the stamp it was given
  std::mt19937_64 rng(3);
  int hits = 0;
  int false_unknown = 0;  // a key never seen taken for an evicted one (Bloom false positive)
  for (int step = 0; step < 200000; ++step) {
    std::uint64_t k = rng() % 3000;
    auto* e = cache.find_or_add(digest(k), step + 1);
    ASSERT_NE(e, nullptr);
    ASSERT_EQ(e->digest, digest(k));
    auto it = model.find(k);
    if (it != model.end()) {
      // Still there (found), evicted and re-added as unknown, or evicted so
      // long ago that the cache forgot it.
      ASSERT_TRUE(e->stamp == it->second || e->stamp == "?" || e->stamp.empty()) << k;
      hits += e->stamp == it->second ? 1 : 0;
    } else {
      ASSERT_TRUE(e->stamp.empty() || e->stamp == "?");
      false_unknown += e->stamp == "?" ? 1 : 0;
    }
    e->stamp = std::to_string(step);
    model[k] = e->stamp;
    ASSERT_LE(cache.size(), 1000u);
  }
  EXPECT_EQ(cache.size(), 1000u);
  EXPECT_GT(cache.evictions(), 0u);
  // Uniform over 3,000 keys with room for 1,000: about a third are hits.
  EXPECT_GT(hits, 200000 / 4);
  EXPECT_LE(false_unknown, 3000 * 3 / 100);
}

TEST(StateCache, RecentlyUsedEntriesSurviveAndReusedEntriesStartEmpty) {
  StateCache cache(4);
  for (std::uint64_t k = 1; k <= 4; ++k) {
    auto* e = cache.find_or_add(digest(k), 1);
    e->stamp = "s" + std::to_string(k);
    e->state.newest = 7;
    e->state.applied.emplace_back(0, 9);
    e->ttl_sent_ms = 5;
  }
  // The hand clears every bit, then takes key 1's entry for key 5.
  auto* five = cache.find_or_add(digest(5), 2);
  EXPECT_EQ(five->digest, digest(5));
  EXPECT_TRUE(five->stamp.empty());
  EXPECT_TRUE(five->state.empty());
  EXPECT_EQ(five->ttl_sent_ms, StateCache::kTtlUnknown);
  // Key 2 is looked up again (referenced): key 3 goes next, not key 2.
  EXPECT_EQ(cache.find_or_add(digest(2), 3)->stamp, "s2");
  cache.find_or_add(digest(6), 3);
  EXPECT_EQ(cache.find_or_add(digest(2), 4)->stamp, "s2");
  EXPECT_EQ(cache.find_or_add(digest(4), 4)->stamp, "s4");
  EXPECT_EQ(cache.find_or_add(digest(3), 5)->stamp, "?");  // was evicted: Redis likely holds it
}

// An entry reused for key after key keeps a small bucket buffer for reuse
// but not a big one: the cache's memory follows the states it holds now,
// not the biggest each entry ever held (a 1-minute window keeps up to 120
// buckets; 65,536 entries at that size would be 300 MB).
TEST(StateCache, AReusedEntryKeepsASmallBucketBufferButNotABigOne) {
  StateCache cache(2);
  auto fill = [&](std::uint64_t k, std::size_t buckets, std::uint64_t apply) {
    auto* e = cache.find_or_add(digest(k), apply);
    for (std::size_t b = 0; b < buckets; ++b) e->state.buckets.push_back({static_cast<std::int64_t>(b), 1, 0, 0, 0, 0});
    return e;
  };
  fill(1, 120, 1);
  fill(2, StateCache::kReusedKeepBuckets, 1);
  // Both evicted in turn (CLOCK: every bit cleared, then key 1's entry first).
  auto* three = cache.find_or_add(digest(3), 2);
  EXPECT_TRUE(three->state.buckets.empty());
  EXPECT_EQ(three->state.buckets.capacity(), StateCache::kReusedKeepBuckets);  // 120 buckets released
  auto* four = cache.find_or_add(digest(4), 3);
  EXPECT_TRUE(four->state.buckets.empty());
  EXPECT_GE(four->state.buckets.capacity(), StateCache::kReusedKeepBuckets);  // kept for reuse
}

TEST(StateCache, EvictedKeysComeBackUnknownForEightToSixteenTimesTheCapacity) {
  StateCache cache(500);
  std::uint64_t pin = 1;
  for (std::uint64_t k = 0; k < 1000; ++k) cache.find_or_add(digest(k), pin++);     // evicts 0..499
  for (std::uint64_t k = 1000; k < 2000; ++k) cache.find_or_add(digest(k), pin++);  // and 500..1499
  EXPECT_EQ(cache.evictions(), 1500u);
  // Every evicted key is remembered (a Bloom filter has no false negatives).
  for (std::uint64_t k = 0; k < 1000; ++k) ASSERT_EQ(cache.find_or_add(digest(k), pin++)->stamp, "?") << k;
  // Keys never seen are new, but for the filter's rare false positives.
  int unknown = 0;
  for (std::uint64_t k = 100000; k < 110000; ++k) unknown += cache.find_or_add(digest(k), pin++)->stamp == "?";
  EXPECT_LT(unknown, 10000 * 3 / 100);
  // More than 16 x the capacity of evictions since 1000..1499 went:
  // forgotten (new again).
  std::uint64_t old_unknown = 0;
  for (std::uint64_t k = 1000; k < 1500; ++k) old_unknown += cache.find_or_add(digest(k), pin++)->stamp == "?";
  EXPECT_LT(old_unknown, 500u * 3 / 100) << "evicted early, then more than 16 x capacity evictions later";
}

TEST(StateCache, EntriesOfTheApplyInProgressAreNeverEvicted) {
  StateCache cache(8);
  std::set<StateCache::Entry*> pinned;
  for (std::uint64_t k = 0; k < 8; ++k) {
    auto* e = cache.find_or_add(digest(k), 7);
    e->batch = 7;  // grouped by apply 7, as the store marks them
    pinned.insert(e);
  }
  // A ninth key in the same apply: nothing may be evicted (and the key is
  // remembered: the store settles it without a copy, so Redis may hold it).
  EXPECT_EQ(cache.find_or_add(digest(100), 7), nullptr);
  for (std::uint64_t k = 0; k < 8; ++k) EXPECT_TRUE(pinned.count(cache.find_or_add(digest(k), 7)));
  // The next apply may evict them.
  EXPECT_EQ(cache.find_or_add(digest(100), 8)->stamp, "?");
}

TEST(StateCache, CapacityZeroHoldsNothing) {
  StateCache cache(0);
  EXPECT_EQ(cache.find_or_add(digest(1), 1), nullptr);
  EXPECT_EQ(cache.size(), 0u);
}

// The byte budget: the cache's charged memory follows `budget_bytes` however
// big the states grow, by holding fewer keys; what it finds is still what was
// put there, and the charge matches the states it holds.
TEST(StateCache, ABudgetInBytesBoundsTheMemoryAsStatesGrow) {
  constexpr std::size_t kBudget = 1 << 20;
  StateCache cache(100000, kBudget);
  std::map<std::uint64_t, std::string> model;
  std::mt19937_64 rng(5);
  std::size_t most_keys = 0;
  for (int step = 1; step <= 60000; ++step) {
    std::uint64_t k = rng() % 20000;
    auto* e = cache.find_or_add(digest(k), static_cast<std::uint64_t>(step));
    ASSERT_NE(e, nullptr);
    ASSERT_EQ(e->digest, digest(k));
    auto it = model.find(k);
    if (it != model.end()) {
      ASSERT_TRUE(e->stamp == it->second || e->stamp == "?" || e->stamp.empty()) << k;
    }
    e->stamp = std::to_string(step);
    model[k] = e->stamp;
    // States grow over the run: by the end a key holds up to 60 buckets.
    std::size_t want = 1 + static_cast<std::size_t>(step) / 1000;
    while (e->state.buckets.size() < want) {
      e->state.buckets.push_back({static_cast<std::int64_t>(e->state.buckets.size()), 1, 0, 0, 0, 0});
    }
    cache.account(*e);
    most_keys = std::max(most_keys, cache.size());
    // Over by at most a little: what an add and a state's growth bring
    // before the next add shrinks it back.
    ASSERT_LE(cache.bytes(), kBudget + kBudget / 64) << step;
  }
  // Early on small states fit thousands of keys; at 60 buckets far fewer.
  EXPECT_GT(most_keys, 2000u);
  EXPECT_LT(cache.size(), most_keys / 3);
  EXPECT_GT(cache.bytes(), kBudget / 2);  // shrinks to the budget, not far below it
  // The released slots left the array (their entries' fixed part is charged
  // too): it holds the keys, not the most keys it ever held.
  EXPECT_EQ(cache.slots(), cache.size());
}

TEST(StateCache, ReleasingMemoryMovesEntriesButNotThoseOfTheApplyInProgress) {
  // A budget of ~600 keys; each apply holds 200 keys while states grow, so
  // releases must fill slots from the end of the array but may not move an
  // entry the apply holds.
  constexpr std::size_t kBudget = 600 * StateCache::kKeyBytes;
  StateCache cache(100000, kBudget);
  std::mt19937_64 rng(9);
  std::map<std::uint64_t, std::size_t> buckets;  // key -> its state's buckets, while cached
  for (std::uint64_t apply = 1; apply <= 300; ++apply) {
    std::vector<std::pair<std::uint64_t, StateCache::Entry*>> held;
    std::set<std::uint64_t> keys;
    while (keys.size() < 200) keys.insert(rng() % 3000);
    for (std::uint64_t k : keys) {
      auto* e = cache.find_or_add(digest(k), apply);
      ASSERT_NE(e, nullptr);
      e->batch = apply;
      // A copy found is the one left there: a moved entry took its state along.
      if (!e->stamp.empty() && e->stamp != "?") {
        ASSERT_EQ(e->stamp, std::to_string(k));
        ASSERT_EQ(e->state.buckets.size(), buckets[k]) << k;
      }
      e->stamp = std::to_string(k);
      e->state.buckets.push_back({static_cast<std::int64_t>(apply), 1, 0, 0, 0, 0});
      buckets[k] = e->state.buckets.size();
      cache.account(*e);
      held.emplace_back(k, e);
    }
    // Everything this apply holds is still where it was handed out.
    for (auto& [k, e] : held) {
      ASSERT_EQ(e->digest, digest(k)) << apply;
      ASSERT_EQ(e->stamp, std::to_string(k));
    }
    ASSERT_LE(cache.bytes(), kBudget + kBudget / 8) << apply;
  }
  EXPECT_LT(cache.size(), 600u);
  EXPECT_LE(cache.slots(), cache.size() + 200);  // at most what one apply pinned waits released
  EXPECT_TRUE(cache.consistent());
}

TEST(StateCache, ItsChargeIsTheFixedPartPlusEachSlotAndEachStatesBuffers) {
  StateCache cache(16, 0);
  // The index (16 keys: 1,024 slots at least) and the evicted-key memory.
  const std::size_t fixed = cache.fixed_bytes();
  EXPECT_GE(fixed, 1024 * 16u);
  EXPECT_EQ(cache.bytes(), fixed);
  auto* a = cache.find_or_add(digest(1), 1);
  auto* b = cache.find_or_add(digest(2), 1);
  const std::size_t slots = 2 * sizeof(StateCache::Entry);
  EXPECT_EQ(cache.bytes(), fixed + slots);
  a->state.buckets.resize(10);
  b->state.distinct = std::make_unique<WindowState::DistinctValues>();
  (*b->state.distinct)["v"] = {1};
  cache.account(*a);
  cache.account(*b);
  EXPECT_EQ(cache.bytes(), fixed + slots + StateCache::state_bytes(a->state) + StateCache::state_bytes(b->state));
  // A buffer is charged as the allocator's chunk: 10 buckets of 40 bytes
  // take 416.
  EXPECT_EQ(StateCache::state_bytes(a->state), 416u);
  EXPECT_EQ(StateCache::chunk_bytes(1), 32u);
  EXPECT_EQ(StateCache::chunk_bytes(24), 32u);
  EXPECT_EQ(StateCache::chunk_bytes(40), 48u);
  EXPECT_GE(StateCache::state_bytes(b->state), StateCache::kDistinctValueBytes);
  cache.forget(*a, "?");  // forgetting keeps small buffers but charges what is left
  EXPECT_EQ(cache.bytes(), fixed + slots + StateCache::state_bytes(a->state) + StateCache::state_bytes(b->state));
}

TEST(StateCache, TheArraysPagesGoBackAndTheCopiesLeftAndAddedAfterwardAreIntact) {
  // 40,000 keys fill 5 MB of entries; then their states grow (the keys are
  // seen again: no new key comes) until most are released, so the array's
  // end (well over 1 MB) goes back to the system; then new keys are added on
  // those pages again.
  constexpr std::size_t kBudget = 16 << 20;
  StateCache cache(100000, kBudget);
  std::map<std::uint64_t, std::size_t> buckets;  // key -> its state's buckets
  std::uint64_t apply = 1;
  auto touch = [&](std::uint64_t k, std::size_t want) {
    auto* e = cache.find_or_add(digest(k), apply);
    ASSERT_NE(e, nullptr);
    e->batch = apply++;  // grouped by this apply, as the store marks them
    auto it = buckets.find(k);
    if (it != buckets.end() && e->stamp == std::to_string(k)) {
      ASSERT_EQ(e->state.buckets.size(), it->second) << k;
      for (std::size_t b = 0; b < it->second; ++b)
        ASSERT_EQ(e->state.buckets[b].bucket, static_cast<std::int64_t>(k + b));
    }
    e->stamp = std::to_string(k);
    e->state.buckets.clear();
    for (std::size_t b = 0; b < want; ++b)
      e->state.buckets.push_back({static_cast<std::int64_t>(k + b), 1, 0, 0, 0, 0});
    e->state.buckets.shrink_to_fit();  // a state that shrinks gives its memory back (as a fresh decode would)
    cache.account(*e);
    buckets[k] = want;
  };
  for (std::uint64_t k = 0; k < 40000; ++k) touch(k, 1);
  const std::size_t full = cache.slots();
  EXPECT_GT(full, 30000u);
  for (std::uint64_t k = 0; k < 40000; ++k) touch(k, 40);  // 40 buckets: ~1.7 KB a state
  EXPECT_LT(cache.slots(), full / 3);
  EXPECT_EQ(cache.slots(), cache.size());
  EXPECT_TRUE(cache.consistent());  // no copy lost its entry to the pages given back
  // The keys left shrink back to one bucket, and new keys come: the array
  // regrows over the pages it gave back.
  for (std::uint64_t k = 0; k < 40000; ++k) {
    if (buckets[k] == 40) touch(k, 1);
  }
  for (std::uint64_t k = 40000; k < 80000; ++k) touch(k, 1);
  EXPECT_GT(cache.slots(), full / 2);
  EXPECT_TRUE(cache.consistent());
  for (std::uint64_t k = 0; k < 80000; ++k) touch(k, 2);
  EXPECT_LE(cache.bytes(), kBudget + kBudget / 64);
  EXPECT_TRUE(cache.consistent());
}
