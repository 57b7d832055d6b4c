// The Helm chart, rendered like `helm template` (tests/helm/render.go: Go
// text/template + sprig, as Helm) for default and non-default values, then
// parsed and checked as an SRE would: labels, probes, security context, the
// rules directory mount, secrets, autoscaling, monitoring objects.
#include <gtest/gtest.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>

#include "engine/cli/run_config.h"
#include "engine/pack_loader.h"

namespace fs = std::filesystem;
using namespace fraud;

namespace {

struct Rendered {
  int exit_code = 0;
  std::vector<YAML::Node> docs;
  std::string text;
};

Rendered render(const std::string& values_yaml = "") {
  std::string dir = ::testing::TempDir();
  // Every install names its salt secret (the chart refuses Redis without
  // one); a test's values may clear it again.
  std::string base = dir + "/values-base.yaml";
  std::ofstream(base) << "redis: {saltSecret: {name: fraud-salt}}\n";
  std::string cmd = std::string(HELM_RENDER) + " " + FRAUD_SOURCE_DIR + "/helm/fraudstream rel fraud " + base;
  if (!values_yaml.empty()) {
    std::string vf = dir + "/values-" + std::to_string(std::hash<std::string>{}(values_yaml)) + ".yaml";
    std::ofstream(vf) << values_yaml;
    cmd += " " + vf;
  }
  // One file per process and call: ctest runs the chart tests in parallel.
  static int calls = 0;
  std::string out = dir + "/rendered-" + std::to_string(::getpid()) + "-" + std::to_string(calls++) + ".yaml";
  Rendered r;
  int rc = std::system((cmd + " > " + out + " 2> " + out + ".err").c_str());
  r.exit_code = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  std::ifstream in(out);
  r.text.assign(std::istreambuf_iterator<char>(in), {});
  if (r.exit_code != 0) {  // the chart's `fail` message
    std::ifstream err(out + ".err");
    r.text.append(std::istreambuf_iterator<char>(err), {});
  }
  if (r.exit_code == 0) {
    for (const auto& d : YAML::LoadAll(r.text)) {
      if (d && d.IsMap()) r.docs.push_back(d);
    }
  }
  return r;
}

std::vector<YAML::Node> of_kind(const Rendered& r, const std::string& kind) {
  std::vector<YAML::Node> out;
  for (const auto& d : r.docs) {
    if (d["kind"].as<std::string>() == kind) out.push_back(d);
  }
  return out;
}

YAML::Node one(const Rendered& r, const std::string& kind) {
  auto v = of_kind(r, kind);
  EXPECT_EQ(v.size(), 1u) << kind;
  return v.empty() ? YAML::Node() : v[0];
}

std::optional<YAML::Node> find_config_map(const Rendered& r, const std::string& suffix) {
  for (const auto& d : of_kind(r, "ConfigMap")) {
    std::string n = d["metadata"]["name"].as<std::string>();
    if (n.size() >= suffix.size() && n.compare(n.size() - suffix.size(), suffix.size(), suffix) == 0) return d;
  }
  return std::nullopt;
}

YAML::Node config_map(const Rendered& r, const std::string& suffix) {
  auto cm = find_config_map(r, suffix);
  EXPECT_TRUE(cm.has_value()) << "no ConfigMap *" << suffix;
  return cm.value_or(YAML::Node());
}

}  // namespace

TEST(HelmChart, DefaultValues) {
  Rendered r = render();
  ASSERT_EQ(r.exit_code, 0) << r.text;
  for (const char* kind : {"Deployment", "Service", "ServiceMonitor", "PrometheusRule", "PodDisruptionBudget"})
    one(r, kind);
  EXPECT_EQ(of_kind(r, "ConfigMap").size(), 3u);
  EXPECT_TRUE(of_kind(r, "ScaledObject").empty());
  EXPECT_TRUE(of_kind(r, "HorizontalPodAutoscaler").empty());
  for (const auto& d : r.docs) {
    auto labels = d["metadata"]["labels"];
    EXPECT_EQ(labels["app.kubernetes.io/name"].as<std::string>(), "fraudstream") << d["kind"];
    EXPECT_EQ(labels["app.kubernetes.io/instance"].as<std::string>(), "rel");
    EXPECT_EQ(labels["app.kubernetes.io/managed-by"].as<std::string>(), "Helm");
  }

  YAML::Node dep = one(r, "Deployment");
  YAML::Node pod = dep["spec"]["template"];
  EXPECT_EQ(dep["spec"]["replicas"].as<int>(), 2);
  EXPECT_EQ(dep["spec"]["selector"]["matchLabels"]["app.kubernetes.io/instance"].as<std::string>(), "rel");
  EXPECT_EQ(pod["metadata"]["labels"]["app.kubernetes.io/name"].as<std::string>(), "fraudstream");
  EXPECT_TRUE(pod["spec"]["securityContext"]["runAsNonRoot"].as<bool>());
  EXPECT_NE(pod["spec"]["securityContext"]["runAsUser"].as<int>(), 0);
  YAML::Node c = pod["spec"]["containers"][0];
  EXPECT_TRUE(c["securityContext"]["readOnlyRootFilesystem"].as<bool>());
  EXPECT_FALSE(c["securityContext"]["allowPrivilegeEscalation"].as<bool>());
  EXPECT_EQ(c["securityContext"]["capabilities"]["drop"][0].as<std::string>(), "ALL");
  EXPECT_TRUE(c["resources"]["limits"]["memory"]);
  EXPECT_TRUE(c["resources"]["requests"]["cpu"]);
  EXPECT_EQ(c["livenessProbe"]["httpGet"]["path"].as<std::string>(), "/healthz");
  EXPECT_EQ(c["readinessProbe"]["httpGet"]["path"].as<std::string>(), "/readyz");
  EXPECT_GE(c["livenessProbe"]["timeoutSeconds"].as<int>(), 5) << "not Kubernetes' 1 s default";
  EXPECT_GE(c["readinessProbe"]["timeoutSeconds"].as<int>(), 5);
  // Its own ServiceAccount, no API token mounted (the engine never calls the API).
  YAML::Node sa = one(r, "ServiceAccount");
  EXPECT_EQ(pod["spec"]["serviceAccountName"].as<std::string>(), sa["metadata"]["name"].as<std::string>());
  EXPECT_FALSE(pod["spec"]["automountServiceAccountToken"].as<bool>());
  EXPECT_FALSE(sa["automountServiceAccountToken"].as<bool>());
  // NetworkPolicy: the pods, ingress to the metrics port only, egress to Kafka and Redis ports.
  YAML::Node np = one(r, "NetworkPolicy");
  EXPECT_EQ(np["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/instance"].as<std::string>(), "rel");
  ASSERT_EQ(np["spec"]["ingress"].size(), 1u);
  EXPECT_EQ(np["spec"]["ingress"][0]["ports"][0]["port"].as<std::string>(), "metrics");
  std::set<int> egress;
  for (const auto& port : np["spec"]["egress"][0]["ports"]) egress.insert(port["port"].as<int>());
  EXPECT_TRUE(egress.count(9092) && egress.count(6379) && egress.count(53));
  EXPECT_EQ(c["ports"][0]["name"].as<std::string>(), "metrics");
  // Only the salt (required, from the base values) is configured: its file.
  ASSERT_EQ(c["env"].size(), 1u);
  EXPECT_EQ(c["env"][0]["name"].as<std::string>(), "FRAUDSTREAM_REDIS_SALT_FILE");
  // Rules: the whole ConfigMap mounted as a directory (no subPath, so
  // updates reach the pod and hot reload), and not in a restart checksum.
  std::string rules_cm = config_map(r, "-rules")["metadata"]["name"].as<std::string>();
  bool mounted = false;
  for (const auto& m : c["volumeMounts"]) {
    if (m["mountPath"].as<std::string>() == "/etc/fraudstream/rules") {
      mounted = true;
      EXPECT_FALSE(m["subPath"]);
      for (const auto& v : pod["spec"]["volumes"]) {
        if (v["name"].as<std::string>() == m["name"].as<std::string>()) {
          EXPECT_EQ(v["configMap"]["name"].as<std::string>(), rules_cm);
        }
      }
    }
  }
  EXPECT_TRUE(mounted);
  for (const auto& a : pod["metadata"]["annotations"]) {
    EXPECT_EQ(a.first.as<std::string>().find("rules"), std::string::npos);
  }
  // The Service selects the pods; the ServiceMonitor selects the Service.
  YAML::Node svc = one(r, "Service");
  EXPECT_EQ(svc["spec"]["selector"]["app.kubernetes.io/name"].as<std::string>(), "fraudstream");
  EXPECT_EQ(one(r, "ServiceMonitor")["spec"]["endpoints"][0]["port"].as<std::string>(), "metrics");

  // The rendered rules ConfigMap is the shipped pack, and compiles to it.
  fs::path dir = fs::path(::testing::TempDir()) / "chart-rules";
  fs::remove_all(dir);
  fs::create_directories(dir);
  for (const auto& kv : config_map(r, "-rules")["data"]) {
    std::ofstream(dir / kv.first.as<std::string>()) << kv.second.as<std::string>();
  }
  PackLoadResult from_chart = load_pack_directory(dir);
  PackLoadResult shipped = load_pack_directory(fs::path(FRAUD_SOURCE_DIR) / "rules");
  ASSERT_TRUE(from_chart.ok()) << from_chart.diagnostics.to_text();
  EXPECT_EQ(from_chart.rules->version, shipped.rules->version);

  // The config the pod reads is a valid `run` config.
  std::ofstream(dir / "run.yaml") << config_map(r, "-config")["data"]["run.yaml"].as<std::string>();
  RunConfig rc = load_run_config((dir / "run.yaml").string(), {});
  EXPECT_EQ(rc.rules_dir, "/etc/fraudstream/rules");
  EXPECT_EQ(rc.stream.input_topic, "loan-events");

  // Dashboard for the Grafana sidecar; alerts as a PrometheusRule.
  YAML::Node dash = config_map(r, "-dashboard");
  EXPECT_EQ(dash["metadata"]["labels"]["grafana_dashboard"].as<std::string>(), "1");
  std::string json = dash["data"]["fraudstream.json"].as<std::string>();
  EXPECT_NE(json.find("\"panels\""), std::string::npos);
  EXPECT_EQ(json.find("__inputs"), std::string::npos);
  EXPECT_EQ(one(r, "PrometheusRule")["spec"]["groups"][0]["rules"].size(), 9u);
}

TEST(HelmChart, NonDefaultValues) {
  Rendered r = render(R"(
rules:
  existingConfigMap: team-rules
redis:
  urlSecret: {name: redis-creds, key: url}
  passwordSecret: {name: redis-pw, key: pw}
  saltSecret: {name: fraud-salt, key: salt}
kafka:
  bootstrap: "b1:9093,b2:9093"
  inputPartitions: 48
  properties: {security.protocol: SASL_SSL, sasl.username: svc}
  saslPasswordSecret: {name: kafka-creds, key: password}
serviceMonitor:
  labels: {release: kube-prometheus-stack}
autoscaling:
  keda: {enabled: true, maxReplicas: 24, lagThreshold: "10000"}
podDisruptionBudget:
  minAvailable: 3
)");
  ASSERT_EQ(r.exit_code, 0) << r.text;
  EXPECT_FALSE(find_config_map(r, "-rules")) << "an existing ConfigMap is not rendered";
  YAML::Node dep = one(r, "Deployment");
  EXPECT_FALSE(dep["spec"]["replicas"]) << "KEDA owns the replica count";
  YAML::Node pod = dep["spec"]["template"]["spec"];
  std::map<std::string, YAML::Node> env;
  for (const auto& e : pod["containers"][0]["env"])
    env.emplace(e["name"].as<std::string>(), static_cast<const YAML::Node&>(e));
  EXPECT_EQ(env["FRAUDSTREAM_REDIS_URL"]["valueFrom"]["secretKeyRef"]["name"].as<std::string>(), "redis-creds");
  EXPECT_EQ(env["FRAUDSTREAM_KAFKA_PROPERTIES_SASL_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"].as<std::string>(),
            "kafka-creds");
  EXPECT_EQ(env["FRAUDSTREAM_REDIS_PASSWORD"]["valueFrom"]["secretKeyRef"]["key"].as<std::string>(), "pw");
  for (const auto& a : pod["containers"][0]["args"]) EXPECT_EQ(a.as<std::string>().find("redis://"), std::string::npos);
  EXPECT_EQ(env["FRAUDSTREAM_REDIS_SALT_FILE"]["value"].as<std::string>(), "/var/run/secrets/fraudstream/salt/salt");
  bool rules_from_team = false, salt = false;
  for (const auto& v : pod["volumes"]) {
    if (v["configMap"] && v["configMap"]["name"].as<std::string>() == "team-rules") rules_from_team = true;
    if (v["secret"] && v["secret"]["secretName"].as<std::string>() == "fraud-salt") salt = true;
  }
  EXPECT_TRUE(rules_from_team);
  EXPECT_TRUE(salt);
  EXPECT_EQ(one(r, "ServiceMonitor")["metadata"]["labels"]["release"].as<std::string>(), "kube-prometheus-stack");
  YAML::Node so = one(r, "ScaledObject");
  EXPECT_EQ(so["spec"]["maxReplicaCount"].as<int>(), 24);
  EXPECT_EQ(so["spec"]["triggers"][0]["type"].as<std::string>(), "kafka");
  EXPECT_EQ(so["spec"]["triggers"][0]["metadata"]["lagThreshold"].as<std::string>(), "10000");
  EXPECT_EQ(so["spec"]["triggers"][0]["metadata"]["consumerGroup"].as<std::string>(), "fraudstream");
  EXPECT_TRUE(of_kind(r, "HorizontalPodAutoscaler").empty());
  EXPECT_EQ(one(r, "PodDisruptionBudget")["spec"]["minAvailable"].as<int>(), 3);
  std::string run_yaml = config_map(r, "-config")["data"]["run.yaml"].as<std::string>();
  fs::path f = fs::path(::testing::TempDir()) / "run-nondefault.yaml";
  std::ofstream(f) << run_yaml;
  RunConfig rc = load_run_config(f.string(), {});
  EXPECT_EQ(rc.stream.bootstrap, "b1:9093,b2:9093");
  EXPECT_EQ(rc.stream.kafka_properties.at("security.protocol"), "SASL_SSL");
}

TEST(HelmChart, HpaInsteadOfKedaAndNeverBoth) {
  Rendered hpa = render("autoscaling: {hpa: {enabled: true}}\n");
  ASSERT_EQ(hpa.exit_code, 0);
  EXPECT_EQ(one(hpa, "HorizontalPodAutoscaler")["spec"]["maxReplicas"].as<int>(), 12);
  EXPECT_TRUE(of_kind(hpa, "ScaledObject").empty());
  // KEDA scales on lag up to the partition count, never beyond.
  Rendered keda = render("kafka: {inputPartitions: 36}\nautoscaling: {keda: {enabled: true}}\n");
  ASSERT_EQ(keda.exit_code, 0) << keda.text;
  EXPECT_EQ(one(keda, "ScaledObject")["spec"]["maxReplicaCount"].as<int>(), 36);
  EXPECT_EQ(one(keda, "ScaledObject")["spec"]["triggers"][0]["metadata"]["allowIdleConsumers"].as<std::string>(),
            "false");
  Rendered too_many = render("autoscaling: {keda: {enabled: true, maxReplicas: 24}}\n");
  EXPECT_NE(too_many.exit_code, 0);
  EXPECT_NE(too_many.text.find("above kafka.inputPartitions (12)"), std::string::npos) << too_many.text;
  Rendered both = render("autoscaling: {hpa: {enabled: true}, keda: {enabled: true}}\n");
  EXPECT_NE(both.exit_code, 0) << "enabling both must fail";
  Rendered off =
      render("serviceMonitor: {enabled: false}\nprometheusRule: {enabled: false}\ndashboard: {enabled: false}\n");
  ASSERT_EQ(off.exit_code, 0);
  EXPECT_TRUE(of_kind(off, "ServiceMonitor").empty());
  EXPECT_TRUE(of_kind(off, "PrometheusRule").empty());
  EXPECT_FALSE(find_config_map(off, "-dashboard"));
}

TEST(HelmChart, RedisNeedsASaltSecret) {
  Rendered none = render("redis: {saltSecret: {name: \"\"}}\n");
  EXPECT_NE(none.exit_code, 0);
  EXPECT_NE(none.text.find("redis.saltSecret.name is required"), std::string::npos) << none.text;
  Rendered memory = render("redis: {url: memory, saltSecret: {name: \"\"}}\n");
  EXPECT_EQ(memory.exit_code, 0) << memory.text;
}

// Redis over TLS: a native stunnel sidecar (same image) that verifies the
// server against the CA secret; the engine's URL is the sidecar's.
TEST(HelmChart, RedisTlsSidecar) {
  Rendered r = render(R"(redis:
  tls:
    enabled: true
    server: redis-tls.data:6380
    checkHost: redis-tls.data
    caSecret: {name: redis-ca}
  passwordSecret: {name: redis-pass}
)");
  ASSERT_EQ(r.exit_code, 0) << r.text;
  YAML::Node pod = one(r, "Deployment")["spec"]["template"]["spec"];
  ASSERT_EQ(pod["initContainers"].size(), 1u);
  YAML::Node side = pod["initContainers"][0];
  EXPECT_EQ(side["name"].as<std::string>(), "redis-tls");
  EXPECT_EQ(side["restartPolicy"].as<std::string>(), "Always");
  EXPECT_EQ(side["command"][0].as<std::string>(), "stunnel4");
  EXPECT_EQ(side["image"].as<std::string>(), pod["containers"][0]["image"].as<std::string>());
  EXPECT_TRUE(side["securityContext"]["readOnlyRootFilesystem"].as<bool>());
  bool ca_volume = false;
  for (const auto& v : pod["volumes"]) {
    if (v["name"].as<std::string>() == "redis-tls")
      ca_volume = v["secret"]["secretName"].as<std::string>() == "redis-ca";
  }
  EXPECT_TRUE(ca_volume);
  YAML::Node data = config_map(r, "-config")["data"];
  YAML::Node run = YAML::Load(data["run.yaml"].as<std::string>());
  EXPECT_EQ(run["redis"]["url"].as<std::string>(), "redis://127.0.0.1:6379");
  std::string conf = data["stunnel-redis.conf"].as<std::string>();
  for (const char* line :
       {"client = yes", "accept = 127.0.0.1:6379", "connect = redis-tls.data:6380", "verifyChain = yes",
        "checkHost = redis-tls.data", "CAfile = /etc/fraudstream/redis-tls/ca.crt"}) {
    EXPECT_NE(conf.find(line), std::string::npos) << line << " in\n" << conf;
  }
  Rendered no_ca = render("redis: {tls: {enabled: true}}\n");
  EXPECT_NE(no_ca.exit_code, 0);
  EXPECT_NE(no_ca.text.find("redis.tls.caSecret.name is required"), std::string::npos) << no_ca.text;
  Rendered with_url = render("redis: {tls: {enabled: true, caSecret: {name: ca}}, urlSecret: {name: u}}\n");
  EXPECT_NE(with_url.exit_code, 0);
  // Off by default: no sidecar.
  EXPECT_FALSE(one(render(), "Deployment")["spec"]["template"]["spec"]["initContainers"]);
}
