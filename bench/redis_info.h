// Reading a redis-server's INFO for the benchmarks: Redis's own CPU time,
// command counts and sizes are figures the benches report.
#pragma once

#include <hiredis/hiredis.h>

#include <string>

namespace fraud::bench {

// The text of `INFO <section>` of the node at 127.0.0.1:port ("" if down).
inline std::string redis_info(int port, const char* section) {
  redisContext* c = redisConnect("127.0.0.1", port);
  if (!c || c->err) {
    if (c) redisFree(c);
    return "";
  }
  auto* r = static_cast<redisReply*>(redisCommand(c, "INFO %s", section));
  std::string s = r && r->type == REDIS_REPLY_STRING ? std::string(r->str, r->len) : "";
  if (r) freeReplyObject(r);
  redisFree(c);
  return s;
}

// The number right after `name` in an INFO text (0 if absent), e.g.
// "used_cpu_user:" or "cmdstat_evalsha:calls=".
inline double info_number(const std::string& info, const std::string& name) {
  auto p = info.find(name);
  return p == std::string::npos ? 0 : std::stod(info.substr(p + name.size()));
}

// Redis's CPU seconds (user + system) so far.
inline double redis_cpu_seconds(int port) {
  std::string cpu = redis_info(port, "cpu");
  return info_number(cpu, "used_cpu_user:") + info_number(cpu, "used_cpu_sys:");
}

}  // namespace fraud::bench
