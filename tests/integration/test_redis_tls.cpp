// Redis over TLS (docs/security.md "Redis over TLS"): Debian's hiredis 0.14
// has no TLS, so the engine reaches a TLS-only Redis through stunnel in
// client mode on loopback (the chart's `redis.tls` sidecar). Here: a real
// redis-server with TLS only (no plaintext port), a real stunnel4 that
// verifies the server's certificate against the CA and its host name, and
// the feature store giving the same values as the in-memory store. A proxy
// that does not trust the server's certificate passes nothing: the store
// reports an error instead of talking to an impostor.
#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "connectors/memory/memory_feature_store.h"
#include "connectors/redis/redis_feature_store.h"
#include "engine/pack_loader.h"
#include "engine/pipeline/batch_runner.h"
#include "engine/pipeline/local_run.h"
#include "redis_server.h"

using namespace fraud;
using namespace fraud::testing;

namespace {

const char* kPack = R"(features:
  - name: cnt
    agg: count
    by: k
    window: 1h
  - name: uniq
    agg: distinct
    of: v
    by: k
    window: 1h
)";

// A CA, a server certificate for localhost / 127.0.0.1 signed by it, and a
// second CA that signed nothing (the impostor's view).
struct Certificates {
  std::filesystem::path dir;
  Certificates() {
    dir = std::filesystem::temp_directory_path() / ("fraud-tls-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    const std::string d = dir.string();
    const std::string script =
        "set -e; cd '" + d +
        "'; exec >openssl.log 2>&1;"
        "openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=fraud-test-ca;"
        "openssl req -x509 -newkey rsa:2048 -nodes -keyout other.key -out other-ca.pem -days 2 -subj /CN=other-ca;"
        "openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj /CN=localhost;"
        "printf 'subjectAltName=DNS:localhost,IP:127.0.0.1' > san.ext;"
        "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 "
        "-extfile san.ext";
    if (std::system(("bash -c \"" + script + "\"").c_str()) != 0) {
      throw std::runtime_error("openssl failed, see " + d + "/openssl.log");
    }
  }
  ~Certificates() { std::filesystem::remove_all(dir); }
  std::string path(const char* name) const { return (dir / name).string(); }
};

// stunnel4 in client mode: plaintext on 127.0.0.1:port() to TLS on `target`.
class TlsProxy {
 public:
  TlsProxy(const Certificates& certs, int target, const std::string& ca_file) : port_(free_tcp_port()) {
    conf_ = certs.path(("stunnel-" + std::to_string(port_) + ".conf").c_str());
    std::ofstream(conf_) << "foreground = yes\npid =\ndebug = 4\noutput = " << conf_ << ".log\n"
                         << "[redis]\nclient = yes\naccept = 127.0.0.1:" << port_ << "\nconnect = 127.0.0.1:" << target
                         << "\nCAfile = " << ca_file << "\nverifyChain = yes\ncheckHost = localhost\n";
    pid_ = ::fork();
    if (pid_ == 0) {
      int log = ::open((conf_ + ".stderr").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      ::dup2(log, STDOUT_FILENO);
      ::dup2(log, STDERR_FILENO);
      ::execlp("stunnel4", "stunnel4", conf_.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    for (int i = 0; i < 200 && !port_open(port_); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(25));
    if (!port_open(port_)) throw std::runtime_error("stunnel4 did not start (is the stunnel4 package installed?)");
  }
  ~TlsProxy() {
    ::kill(pid_, SIGTERM);
    ::waitpid(pid_, nullptr, 0);
  }
  int port() const { return port_; }

 private:
  int port_;
  pid_t pid_ = -1;
  std::string conf_;
};

std::unique_ptr<RedisServer> tls_only_redis(const Certificates& certs) {
  int port = free_tcp_port();
  return std::make_unique<RedisServer>(
      "", "", port, "",
      std::vector<std::string>{"--port", "0", "--tls-port", std::to_string(port), "--tls-cert-file",
                               certs.path("server.pem"), "--tls-key-file", certs.path("server.key"),
                               "--tls-ca-cert-file", certs.path("ca.pem"), "--tls-auth-clients", "no"});
}

std::vector<std::string> stream(int n) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) {
    out.push_back(R"({"event_id":"e)" + std::to_string(i) + R"(","event_type":"app","ts":)" +
                  std::to_string(1'772'000'000'000 + i * 20'000) + R"(,"k":"u)" + std::to_string(i % 7) +
                  R"(","v":"d)" + std::to_string(i % 5) + R"("})");
  }
  return out;
}

// Feature values of every event, as text; false if a batch failed.
bool run(FeatureStore& store, const RuleSet& rules, const std::vector<std::string>& lines,
         std::vector<std::string>& out, std::string& error) {
  BatchRunner runner(store, BatchRunner::Options{.read_all_features = true, .idempotent = true});
  const auto pack = borrowed(rules);
  auto records = BatchRunner::records_of(lines);
  for (std::size_t start = 0; start < lines.size(); start += 50) {
    std::size_t n = std::min<std::size_t>(50, lines.size() - start);
    const PipelineBatch& b = runner.run(pack, std::span(records).subspan(start, n));
    EXPECT_EQ(b.ptrs.size(), n);
    if (!b.store_status.ok) {
      error = b.store_status.error;
      return false;
    }
    for (std::size_t i = 0; i < n; ++i) {
      std::string s;
      for (const Value& f : b.processor.features_of(i)) s += std::to_string(f.number) + " ";
      out.push_back(s);
    }
  }
  return true;
}

}  // namespace

TEST(RedisTls, ThroughAVerifyingProxyTheStoreGivesTheSameValues) {
  Certificates certs;
  auto redis = tls_only_redis(certs);
  auto rules = compile_pack({{"p.yaml", kPack}});
  ASSERT_TRUE(rules.ok()) << rules.diagnostics.to_text();
  auto lines = stream(400);

  // No plaintext reaches it: a plain client gets no answer to PING.
  redisContext* plain = redisConnect("127.0.0.1", redis->port());
  ASSERT_TRUE(plain && !plain->err);
  struct timeval tv {
    2, 0
  };
  redisSetTimeout(plain, tv);
  auto* pong = static_cast<redisReply*>(redisCommand(plain, "PING"));
  EXPECT_TRUE(pong == nullptr || pong->type != REDIS_REPLY_STATUS);
  if (pong) freeReplyObject(pong);
  redisFree(plain);

  TlsProxy proxy(certs, redis->port(), certs.path("ca.pem"));
  RedisEndpoint ep;
  ep.port = proxy.port();
  RedisFeatureStore store(std::vector<RedisEndpoint>{ep}, "tls-salt");
  ASSERT_TRUE(store.connect().ok);
  MemoryFeatureStore memory;
  std::vector<std::string> want, got;
  std::string error;
  ASSERT_TRUE(run(memory, *rules.rules, lines, want, error));
  ASSERT_TRUE(run(store, *rules.rules, lines, got, error)) << error;
  EXPECT_EQ(want, got);
  EXPECT_GT(store.counters().round_trips, 0u);
}

TEST(RedisTls, AProxyThatDoesNotTrustTheServerPassesNothing) {
  Certificates certs;
  auto redis = tls_only_redis(certs);
  TlsProxy proxy(certs, redis->port(), certs.path("other-ca.pem"));
  RedisEndpoint ep;
  ep.port = proxy.port();
  RedisFeatureStore store(std::vector<RedisEndpoint>{ep}, "tls-salt", RedisStoreOptions{.timeout_ms = 1000});
  StoreStatus st = store.connect();
  EXPECT_FALSE(st.ok);
  EXPECT_FALSE(st.error.empty());
}
