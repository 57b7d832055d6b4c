// RedisFeatureStore, part: redis:// URLs and seed lists (parsing, redaction).
#include "connectors/redis/redis_feature_store.h"

#include <hiredis/hiredis.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <csignal>
#include <cstring>
#include <functional>
#include <memory>
#include <random>
#include <thread>

#include "connectors/redis/feature_script.h"
#include "connectors/redis/msgpack_lite.h"
#include "connectors/redis/redis_reply.h"
#include "connectors/redis/window_codec.h"
#include "engine/sha256.h"

namespace fraud {

std::optional<std::vector<RedisEndpoint>> parse_redis_seeds(const std::string& url) {
  const std::string scheme = "redis://";
  if (url.rfind(scheme, 0) != 0) return std::nullopt;
  std::string rest = url.substr(scheme.size());
  while (!rest.empty() && rest.back() == '/') rest.pop_back();
  RedisEndpoint creds;
  auto at = rest.rfind('@');
  if (at != std::string::npos) {
    std::string cred = rest.substr(0, at);
    rest = rest.substr(at + 1);
    auto colon = cred.find(':');
    if (colon == std::string::npos) {
      creds.password = cred;
    } else {
      creds.user = cred.substr(0, colon);
      creds.password = cred.substr(colon + 1);
    }
  }
  std::vector<RedisEndpoint> seeds;
  std::size_t start = 0;
  while (start <= rest.size()) {
    std::size_t comma = rest.find(',', start);
    std::string hostport = rest.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    RedisEndpoint ep = creds;
    auto colon = hostport.rfind(':');
    if (colon != std::string::npos) {
      int port = 0;
      auto r = std::from_chars(hostport.data() + colon + 1, hostport.data() + hostport.size(), port);
      if (r.ec != std::errc() || r.ptr != hostport.data() + hostport.size() || port <= 0 || port > 65535) {
        return std::nullopt;
      }
      ep.port = port;
      hostport = hostport.substr(0, colon);
    }
    if (hostport.empty()) return std::nullopt;
    ep.host = hostport;
    seeds.push_back(std::move(ep));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  if (seeds.empty()) return std::nullopt;
  return seeds;
}

std::string redact_redis_url(const std::string& url) {
  auto at = url.rfind('@');
  auto start = url.find("://");
  if (at == std::string::npos) return url;
  start = start == std::string::npos ? 0 : start + 3;
  if (at < start) return url;
  auto colon = url.find(':', start);
  if (colon == std::string::npos || colon > at)
    return url.substr(0, start) + "***" + url.substr(at);  // a bare password
  return url.substr(0, colon + 1) + "***" + url.substr(at);
}

std::optional<RedisEndpoint> parse_redis_url(const std::string& url) {
  auto seeds = parse_redis_seeds(url);
  if (!seeds) return std::nullopt;
  return seeds->front();
}

}  // namespace fraud
