#!/bin/bash
# Drains N generated events (default 200,000) through one fresh engine with
# the in-memory store on a real Kafka 3.9.1 broker, twice per delivery mode,
# and prints events/s (the group join included), transactions and their mean
# commit time. Needs a build (scripts/build.sh) and the Kafka cache.
set -e
cd "$(dirname "$0")/.."
N=${N:-200000}
D=$(mktemp -d)
B=$(scripts/kafka-cluster.sh start $D/k)
topics() { scripts/kafka-cluster.sh topic "$D/k" "$1" 4; }
./build/fraudstream generate --keyed --events $N --seed 3 > $D/ev.tsv
for mode in at_least_once exactly_once at_least_once exactly_once; do
  t=$mode-$RANDOM
  topics $t-in; topics $t-out; topics $t-dlq
  kcat -q -b $B -t $t-in -P -K '\t' -l $D/ev.tsv
  port=$(shuf -i 30000-40000 -n1)
  start=$(date +%s.%N)
  ./build/fraudstream run --rules rules --kafka $B --redis memory --input-topic $t-in --output-topic $t-out --dlq-topic $t-dlq --group $t --metrics-port $port --delivery $mode --transactional-id $t > $D/$t.log 2>&1 &
  pid=$!
  while true; do
    s=$(curl -s localhost:$port/stats || true)
    acked=$(echo "$s" | grep -o '"acked":[0-9]*' | cut -d: -f2)
    [ -n "$acked" ] && [ "$acked" -ge $N ] && break
    sleep 0.1
  done
  end=$(date +%s.%N)
  sleep 0.5
  s=$(curl -s localhost:$port/stats)
  tx=$(echo "$s" | grep -o '"transactions":[0-9]*' | cut -d: -f2)
  us=$(echo "$s" | grep -o '"transaction_commit_us":[0-9]*' | cut -d: -f2)
  kill $pid; wait $pid || true
  echo "$mode: $(echo "$N / ($end - $start)" | bc) events/s (incl. join), transactions $tx, commit ms avg $(echo "scale=2; ${us:-0} / 1000 / (${tx:-0} + 0.0001)" | bc)"
done
scripts/kafka-cluster.sh stop $D/k
