// SHA-256: known vectors (Redis key names are digests, so they must never
// change), the per-thread context of sha256_of, reuse after reset(), and the
// base64url text of digest bytes (RFC 4648 vectors).
#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "engine/sha256.h"

namespace fraud {
namespace {

std::string hex(const Sha256Digest& d) {
  std::string out;
  append_hex(out, d.data(), d.size());
  return out;
}

constexpr const char* kAbc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
constexpr const char* kEmpty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

TEST(Sha256, KnownVectors) {
  EXPECT_EQ(sha256_hex("abc"), kAbc);
  EXPECT_EQ(sha256_hex(""), kEmpty);
  EXPECT_EQ(hex(sha256_of({"abc"})), kAbc);
  EXPECT_EQ(hex(sha256_of({})), kEmpty);
}

TEST(Sha256, PartsDigestTheirConcatenation) {
  std::string_view sep("\0", 1);
  EXPECT_EQ(hex(sha256_of({"a", "b", "c"})), kAbc);
  EXPECT_EQ(hex(sha256_of({"salt", sep, "fp", sep, "key"})), sha256_hex(std::string("salt\0fp\0key", 11)));
  // Consecutive calls on one thread start afresh.
  EXPECT_EQ(hex(sha256_of({"abc"})), kAbc);
}

TEST(Sha256, ResetStartsANewDigest) {
  Sha256 h;
  h.update("xyz");
  (void)h.digest();
  h.reset();
  h.update("ab");
  h.update("c");
  EXPECT_EQ(h.hex_digest(), kAbc);
}

std::string base64url(std::string_view bytes) {
  std::string out = "=";  // appends after what is there
  append_base64url(out, bytes.data(), bytes.size());
  return out.substr(1);
}

TEST(Sha256, Base64urlIsRfc4648Section5Unpadded) {
  // RFC 4648 section 10's vectors, without padding.
  EXPECT_EQ(base64url(""), "");
  EXPECT_EQ(base64url("f"), "Zg");
  EXPECT_EQ(base64url("fo"), "Zm8");
  EXPECT_EQ(base64url("foo"), "Zm9v");
  EXPECT_EQ(base64url("foob"), "Zm9vYg");
  EXPECT_EQ(base64url("fooba"), "Zm9vYmE");
  EXPECT_EQ(base64url("foobar"), "Zm9vYmFy");
  // The URL alphabet: 62 is '-' and 63 is '_' (standard base64: '+' and '/').
  EXPECT_EQ(base64url("\xfb\xff\xbf"), "-_-_");
  // A 16-byte digest is 22 characters.
  Sha256Digest d = sha256_of({"abc"});
  std::string t;
  append_base64url(t, d.data(), 16);
  EXPECT_EQ(t, "ungWv48Bz-pBQUDeXa4iIw");
}

TEST(Sha256, ThreadsHaveTheirOwnContext) {
  std::vector<std::thread> threads;
  std::vector<int> ok(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      int good = 0;
      for (int i = 0; i < 2000; ++i) good += hex(sha256_of({"a", "bc"})) == kAbc;
      ok[t] = good;
    });
  }
  for (auto& t : threads) t.join();
  for (int v : ok) EXPECT_EQ(v, 2000);
}

}  // namespace
}  // namespace fraud
