// SHA-256 digests (OpenSSL's libcrypto), as bytes or lowercase hex, and the
// text forms of digest bytes (hex, base64url).
//
// The digest implementation is fetched from OpenSSL once per process; a
// fetch per digest (what passing EVP_sha256() to each init does in OpenSSL
// 3) takes locks and name lookups that cost more than hashing a short key.
#pragma once

#include <array>
#include <initializer_list>
#include <string>
#include <string_view>

namespace fraud {

using Sha256Digest = std::array<unsigned char, 32>;

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(std::string_view data);
  std::string hex_digest();  // finalises; reset() before updating again
  Sha256Digest digest();     // the same, as bytes
  void reset();              // starts a new digest, keeping the context

 private:
  void* ctx_;
};

std::string sha256_hex(std::string_view data);

// Appends `n` bytes at `data` as lowercase hex (two characters per byte).
void append_hex(std::string& out, const void* data, std::size_t n);
// Appends `n` bytes at `data` as unpadded base64url (RFC 4648 section 5:
// A-Z a-z 0-9 - _, four characters per three bytes, 22 for 16 bytes): the
// shortest printable form, for digests that travel and are stored often.
void append_base64url(std::string& out, const void* data, std::size_t n);

// The digest of the concatenation of `parts`, with a context kept per thread
// (no allocation): for digests on the data path.
Sha256Digest sha256_of(std::initializer_list<std::string_view> parts);

}  // namespace fraud
