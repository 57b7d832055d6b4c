#!/usr/bin/env bash
# Installs every build, test and runtime dependency of fraudstream from
# Debian bookworm packages. Idempotent; needs root (or sudo).
set -euo pipefail
PKGS=(
  build-essential cmake ninja-build pkg-config git
  librdkafka-dev libhiredis-dev libtbb-dev prometheus-cpp-dev
  libxgboost-dev libsimdjson-dev libyaml-cpp-dev libcli11-dev libspdlog-dev libssl-dev
  googletest libgtest-dev libgmock-dev libbenchmark-dev
  redis-server redis-tools stunnel4 kcat prometheus gnuplot-nox
  clang-14 libclang-rt-14-dev clang-format-14
  golang-go golang-github-masterminds-sprig-dev golang-gopkg-yaml.v3-dev
  openjdk-17-jre-headless maven util-linux openssl
)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# The Apache Kafka brokers the tests and benchmarks run against (pinned in
# tests/kafka/pom.xml), from Maven Central into ~/.cache/fraudstream/kafka, once.
"$(dirname "$0")/kafka-fetch.sh"
