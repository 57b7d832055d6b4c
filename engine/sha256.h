// SHA-256 digests (OpenSSL's libcrypto), as lowercase hex.
#pragma once

#include <array>
#include <string>
#include <string_view>

namespace fraud {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(std::string_view data);
  std::string hex_digest();  // finalises; the object cannot be updated after
  std::array<unsigned char, 32> digest();  // the same, as bytes

 private:
  void* ctx_;
};

std::string sha256_hex(std::string_view data);

}  // namespace fraud
