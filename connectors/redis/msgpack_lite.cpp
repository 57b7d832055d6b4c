#include "connectors/redis/msgpack_lite.h"

#include <bit>
#include <cstring>

namespace fraud::msgpack {

namespace {

void put_be(std::string& out, std::uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

std::uint64_t get_be(const char* p, int bytes) {
  std::uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

}  // namespace

void write_array_header(std::string& out, std::uint32_t n) {
  if (n < 16) {
    out.push_back(static_cast<char>(0x90 | n));
  } else if (n < 65536) {
    out.push_back(static_cast<char>(0xdc));
    put_be(out, n, 2);
  } else {
    out.push_back(static_cast<char>(0xdd));
    put_be(out, n, 4);
  }
}

void write_nil(std::string& out) { out.push_back(static_cast<char>(0xc0)); }

void write_int(std::string& out, std::int64_t v) {
  if (v >= 0 && v < 128) {
    out.push_back(static_cast<char>(v));
  } else if (v < 0 && v >= -32) {
    out.push_back(static_cast<char>(0xe0 | (v + 32)));
  } else if (v >= INT32_MIN && v <= INT32_MAX) {
    out.push_back(static_cast<char>(0xd2));
    put_be(out, static_cast<std::uint32_t>(static_cast<std::int32_t>(v)), 4);
  } else {
    out.push_back(static_cast<char>(0xd3));
    put_be(out, static_cast<std::uint64_t>(v), 8);
  }
}

void write_double(std::string& out, double v) {
  out.push_back(static_cast<char>(0xcb));
  put_be(out, std::bit_cast<std::uint64_t>(v), 8);
}

void write_number(std::string& out, double v) {
  constexpr double kExact = 9007199254740992.0;  // 2^53
  if (v >= -kExact && v <= kExact && v == static_cast<double>(static_cast<std::int64_t>(v))) {
    write_int(out, static_cast<std::int64_t>(v));
  } else {
    write_double(out, v);
  }
}

void write_str(std::string& out, std::string_view s) {
  if (s.size() < 32) {
    out.push_back(static_cast<char>(0xa0 | s.size()));
  } else if (s.size() < 256) {
    out.push_back(static_cast<char>(0xd9));
    put_be(out, s.size(), 1);
  } else {
    out.push_back(static_cast<char>(0xdb));
    put_be(out, s.size(), 4);
  }
  out.append(s);
}

bool Reader::take(std::size_t n, const char*& p) {
  if (data_.size() - pos_ < n) return false;
  p = data_.data() + pos_;
  pos_ += n;
  return true;
}

std::optional<std::uint32_t> Reader::array_header() {
  const char* p = nullptr;
  if (!take(1, p)) return std::nullopt;
  auto c = static_cast<unsigned char>(*p);
  if ((c & 0xf0) == 0x90) return c & 0x0f;
  if (c == 0x80) return 0;
  if (c == 0xdc && take(2, p)) return static_cast<std::uint32_t>(get_be(p, 2));
  if (c == 0xdd && take(4, p)) return static_cast<std::uint32_t>(get_be(p, 4));
  return std::nullopt;
}

std::optional<Scalar> Reader::scalar() {
  const char* p = nullptr;
  if (!take(1, p)) return std::nullopt;
  auto c = static_cast<unsigned char>(*p);
  Scalar s;
  auto number = [&](double d) {
    s.kind = Scalar::kNumber;
    s.number = d;
    return s;
  };
  auto string = [&](std::size_t n) -> std::optional<Scalar> {
    if (!take(n, p)) return std::nullopt;
    s.kind = Scalar::kString;
    s.text = std::string_view(p, n);
    return s;
  };
  if (c < 0x80) return number(c);
  if (c >= 0xe0) return number(static_cast<std::int8_t>(c));
  if ((c & 0xe0) == 0xa0) return string(c & 0x1f);
  switch (c) {
    case 0xc0:
      return s;
    case 0xc2:
      s.kind = Scalar::kFalse;
      return s;
    case 0xc3:
      s.kind = Scalar::kTrue;
      return s;
    case 0xcc:
      if (!take(1, p)) return std::nullopt;
      return number(static_cast<double>(get_be(p, 1)));
    case 0xcd:
      if (!take(2, p)) return std::nullopt;
      return number(static_cast<double>(get_be(p, 2)));
    case 0xce:
      if (!take(4, p)) return std::nullopt;
      return number(static_cast<double>(get_be(p, 4)));
    case 0xcf:
      if (!take(8, p)) return std::nullopt;
      return number(static_cast<double>(get_be(p, 8)));
    case 0xd0:
      if (!take(1, p)) return std::nullopt;
      return number(static_cast<std::int8_t>(get_be(p, 1)));
    case 0xd1:
      if (!take(2, p)) return std::nullopt;
      return number(static_cast<std::int16_t>(get_be(p, 2)));
    case 0xd2:
      if (!take(4, p)) return std::nullopt;
      return number(static_cast<std::int32_t>(get_be(p, 4)));
    case 0xd3:
      if (!take(8, p)) return std::nullopt;
      return number(static_cast<double>(static_cast<std::int64_t>(get_be(p, 8))));
    case 0xca:
      if (!take(4, p)) return std::nullopt;
      return number(std::bit_cast<float>(static_cast<std::uint32_t>(get_be(p, 4))));
    case 0xcb:
      if (!take(8, p)) return std::nullopt;
      return number(std::bit_cast<double>(get_be(p, 8)));
    case 0xd9:
    case 0xc4:
      if (!take(1, p)) return std::nullopt;
      return string(get_be(p, 1));
    case 0xda:
    case 0xc5:
      if (!take(2, p)) return std::nullopt;
      return string(get_be(p, 2));
    case 0xdb:
    case 0xc6:
      if (!take(4, p)) return std::nullopt;
      return string(get_be(p, 4));
    default:
      return std::nullopt;
  }
}

}  // namespace fraud::msgpack
