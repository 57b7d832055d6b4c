// hiredis replies: ownership, commands, and the cluster routing errors
// (MOVED / ASK / TRYAGAIN / CROSSSLOT) as the Redis store reads them.
// Internal to connectors/redis.
#pragma once

#include <hiredis/hiredis.h>

#include <charconv>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace fraud::redis_reply {

struct ReplyDeleter {
  void operator()(redisReply* r) const {
    if (r) freeReplyObject(r);
  }
};
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;

inline Reply command(redisContext* c, const std::vector<std::string>& args) {
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  for (const auto& a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  return Reply(static_cast<redisReply*>(redisCommandArgv(c, static_cast<int>(argv.size()), argv.data(), lens.data())));
}

inline bool starts_with(const redisReply* r, const char* prefix) {
  return r->type == REDIS_REPLY_ERROR && std::strncmp(r->str, prefix, std::strlen(prefix)) == 0;
}

// A reply that means "this key is not served here (now)": the slot map is
// stale or the slot is moving.
inline bool routing_error(const redisReply* r) {
  if (r->type != REDIS_REPLY_ERROR) return false;
  return starts_with(r, "MOVED") || starts_with(r, "ASK") || starts_with(r, "TRYAGAIN") ||
         starts_with(r, "CROSSSLOT") || std::strstr(r->str, "non local key") != nullptr;
}

// "MOVED 3999 127.0.0.1:6381" / "ASK ..." -> host, port.
inline bool redirect_target(const redisReply* r, std::string& host, int& port) {
  std::string_view s(r->str, r->len);
  auto space = s.rfind(' ');
  auto colon = s.rfind(':');
  if (space == std::string_view::npos || colon == std::string_view::npos || colon < space) return false;
  host = std::string(s.substr(space + 1, colon - space - 1));
  auto p = s.substr(colon + 1);
  return std::from_chars(p.data(), p.data() + p.size(), port).ec == std::errc();
}

}  // namespace fraud::redis_reply
