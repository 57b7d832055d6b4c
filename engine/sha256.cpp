#include "engine/sha256.h"

#include <openssl/evp.h>

#include <cstdint>
#include <new>
#include <stdexcept>

namespace fraud {

namespace {

const EVP_MD* sha256_md() {
  static const EVP_MD* md = [] {
    const EVP_MD* m = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    if (!m) throw std::runtime_error("OpenSSL has no SHA256 digest");
    return m;
  }();
  return md;
}

}  // namespace

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  if (!ctx_) throw std::bad_alloc();
  reset();
}

Sha256::~Sha256() { EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(ctx_)); }

void Sha256::reset() { EVP_DigestInit_ex(static_cast<EVP_MD_CTX*>(ctx_), sha256_md(), nullptr); }

void Sha256::update(std::string_view data) {
  EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(ctx_), data.data(), data.size());
}

Sha256Digest Sha256::digest() {
  Sha256Digest md{};
  unsigned int len = 0;
  EVP_DigestFinal_ex(static_cast<EVP_MD_CTX*>(ctx_), md.data(), &len);
  return md;
}

std::string Sha256::hex_digest() {
  auto md = digest();
  std::string out;
  append_hex(out, md.data(), md.size());
  return out;
}

void append_hex(std::string& out, const void* data, std::size_t n) {
  static constexpr char kHex[] = "0123456789abcdef";
  const auto* bytes = static_cast<const unsigned char*>(data);
  std::size_t at = out.size();
  out.resize(at + 2 * n);
  char* p = out.data() + at;
  for (std::size_t i = 0; i < n; ++i) {
    p[2 * i] = kHex[bytes[i] >> 4];
    p[2 * i + 1] = kHex[bytes[i] & 15];
  }
}

void append_base64url(std::string& out, const void* data, std::size_t n) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  const auto* bytes = static_cast<const unsigned char*>(data);
  std::size_t at = out.size();
  out.resize(at + (4 * n + 2) / 3);
  char* p = out.data() + at;
  std::size_t i = 0;
  for (; i + 3 <= n; i += 3) {
    std::uint32_t w = (std::uint32_t{bytes[i]} << 16) | (std::uint32_t{bytes[i + 1]} << 8) | bytes[i + 2];
    *p++ = kAlphabet[w >> 18];
    *p++ = kAlphabet[(w >> 12) & 63];
    *p++ = kAlphabet[(w >> 6) & 63];
    *p++ = kAlphabet[w & 63];
  }
  if (i < n) {  // one or two bytes left: two or three characters
    std::uint32_t w = std::uint32_t{bytes[i]} << 16;
    if (i + 1 < n) w |= std::uint32_t{bytes[i + 1]} << 8;
    *p++ = kAlphabet[w >> 18];
    *p++ = kAlphabet[(w >> 12) & 63];
    if (i + 1 < n) *p++ = kAlphabet[(w >> 6) & 63];
  }
}

std::string sha256_hex(std::string_view data) {
  Sha256 h;
  h.update(data);
  return h.hex_digest();
}

Sha256Digest sha256_of(std::initializer_list<std::string_view> parts) {
  thread_local Sha256 h;
  h.reset();
  for (std::string_view p : parts) h.update(p);
  return h.digest();
}

}  // namespace fraud
