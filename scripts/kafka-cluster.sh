#!/usr/bin/env bash
# Apache Kafka brokers in KRaft mode on loopback, for tests and benchmarks.
# Each node is a combined broker + controller with a small heap; the jars
# come from the cache scripts/kafka-fetch.sh fills (tests/kafka/pom.xml).
#
#   kafka-cluster.sh start DIR [--brokers N] [--version V|3|4] [--port P] [--sasl-tls]
#       formats fresh KRaft storage under DIR, starts N nodes (default 1), waits
#       until every broker answers, prints the bootstrap address (also in
#       DIR/bootstrap). Ports: P, P+1, ... for clients (default: free ports),
#       controllers after them. --sasl-tls adds a SASL_SSL listener (SCRAM-
#       SHA-256/512 and PLAIN, user fraud / fraud-secret; DIR/sasl_bootstrap) and an SSL
#       one (DIR/tls_bootstrap), both with a test CA's certificate (DIR/ca.pem).
#   kafka-cluster.sh ensure DIR [options]  start, unless DIR's cluster already
#                                          answers; prints the bootstrap address
#   kafka-cluster.sh stop DIR [NODE]       SIGTERM every node (or one), wait, keep DIR
#   kafka-cluster.sh kill DIR NODE [SIG]   signal one node (default KILL)
#   kafka-cluster.sh restart DIR NODE      start a stopped node again
#   kafka-cluster.sh leader DIR TOPIC PART the node id leading a partition
#   kafka-cluster.sh topic DIR TOPIC PARTS creates a topic
#   kafka-cluster.sh perf DIR TOPIC N SIZE kafka-producer-perf-test then
#                                          kafka-consumer-perf-test: records/s
#
# Environment: KAFKA_CACHE (jar cache), KAFKA_HEAP (default -Xmx512m -Xms192m).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
CACHE="${KAFKA_CACHE:-$HOME/.cache/fraudstream/kafka}"
HEAP="${KAFKA_HEAP:--Xmx512m -Xms192m}"
pinned_version() { "$ROOT/scripts/kafka-fetch.sh" version "$1"; }  # of the 3 or 4 line

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

TAKEN=" "
free_port() {  # sets PORT to a port nothing listens on, not handed out before by this run
  while true; do
    PORT=$(shuf -i 20000-32767 -n 1)  # below the kernel's ephemeral range (client sockets)
    [[ "$TAKEN" == *" $PORT "* ]] && continue
    listening "$PORT" && continue
    TAKEN+="$PORT "
    return
  done
}

node_start() {  # DIR NODE
  local dir="$1" node="$2" nd="$1/node-$2"
  local version lib
  version=$(cat "$dir/version")
  lib="$CACHE/$version"
  local logopt
  if ls "$lib"/reload4j-*.jar >/dev/null 2>&1; then  # the 3.x line logs through log4j 1 (reload4j)
    logopt="-Dlog4j.configuration=file:$dir/log4j.properties"
  else
    logopt="-Dlog4j2.configurationFile=$dir/log4j2.properties"
  fi
  # shellcheck disable=SC2086
  nohup java $HEAP -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true \
    -Dkafka.logs.dir="$nd" $logopt $(cat "$dir/jvm_extra" 2>/dev/null) \
    -cp "$lib/*" kafka.Kafka "$nd/server.properties" >"$nd/stdout.log" 2>&1 &
  echo $! >"$nd/pid"
}

wait_ready() {  # DIR NODE...
  local dir="$1"; shift
  local deadline=$((SECONDS + 90)) node port
  for node in "$@"; do
    port=$(cat "$dir/node-$node/port")
    until listening "$port"; do
      if ! kill -0 "$(cat "$dir/node-$node/pid")" 2>/dev/null; then
        echo "kafka node $node exited; last lines of $dir/node-$node/stdout.log:" >&2
        tail -20 "$dir/node-$node/stdout.log" >&2
        exit 1
      fi
      ((SECONDS < deadline)) || { echo "kafka node $node did not listen on $port in 90 s" >&2; exit 1; }
      sleep 0.2
    done
  done
  # Every broker registered (metadata lists them all).
  local want
  want=$(cat "$dir/brokers")
  until [[ $(kcat -b "$(cat "$dir/bootstrap")" -L -m 5 2>/dev/null | grep -c '^  broker ') -ge $want ]]; do
    ((SECONDS < deadline)) || { echo "kafka: not all $want brokers registered in 90 s" >&2; exit 1; }
    sleep 0.3
  done
}

cmd_start() {
  local dir="$1"; shift
  local brokers=1 version port=0 sasl=0
  version=$(pinned_version 3)
  while (($#)); do
    case "$1" in
      --brokers) brokers="$2"; shift 2 ;;
      --version) version="$2"; shift 2 ;;
      --port) port="$2"; shift 2 ;;
      --sasl-tls) sasl=1; shift ;;
      *) echo "unknown option $1" >&2; exit 2 ;;
    esac
  done
  # "3" / "4": the version tests/kafka/pom.xml pins for that line.
  if [[ "$version" == 3 || "$version" == 4 ]]; then version=$(pinned_version "$version"); fi
  [[ -f "$CACHE/$version/.complete" ]] || "$ROOT/scripts/kafka-fetch.sh" "${version%%.*}"
  mkdir -p "$dir"
  dir="$(cd "$dir" && pwd)"
  # A fresh cluster: whatever ran in DIR before is stopped and wiped.
  cmd_stop "$dir"
  rm -rf "$dir"/node-*
  echo "$version" >"$dir/version"
  echo "$brokers" >"$dir/brokers"
  local -a cports=() bports=() sports=() tports=()
  for ((i = 0; i < brokers; i++)); do
    if ((port)); then
      bports+=($((port + i))); cports+=($((port + brokers + i))); sports+=($((port + 2 * brokers + i)))
      tports+=($((port + 3 * brokers + i)))
    else
      free_port; bports+=("$PORT")
      free_port; cports+=("$PORT")
      free_port; sports+=("$PORT")
      free_port; tports+=("$PORT")
    fi
  done
  local voters="" bootstrap="" sasl_bootstrap="" tls_bootstrap=""
  for ((i = 0; i < brokers; i++)); do
    voters+="${voters:+,}$((i + 1))@127.0.0.1:${cports[i]}"
    bootstrap+="${bootstrap:+,}127.0.0.1:${bports[i]}"
    sasl_bootstrap+="${sasl_bootstrap:+,}127.0.0.1:${sports[i]}"
    tls_bootstrap+="${tls_bootstrap:+,}127.0.0.1:${tports[i]}"
  done
  local rf=$((brokers >= 3 ? 3 : 1)) isr=$((brokers >= 3 ? 2 : 1))
  cat >"$dir/log4j.properties" <<LOG
log4j.rootLogger=WARN, file
log4j.appender.file=org.apache.log4j.FileAppender
log4j.appender.file.File=\${kafka.logs.dir}/server.log
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.server.KafkaServer=INFO
log4j.logger.kafka.server.BrokerServer=INFO
LOG
  cat >"$dir/log4j2.properties" <<LOG
rootLogger.level=WARN
rootLogger.appenderRef.file.ref=file
appender.file.type=File
appender.file.name=file
appender.file.fileName=\${sys:kafka.logs.dir}/server.log
appender.file.layout.type=PatternLayout
appender.file.layout.pattern=[%d] %p %m (%c)%n
LOG
  local listeners="PLAINTEXT://127.0.0.1:BPORT,CONTROLLER://127.0.0.1:CPORT"
  local advertised="PLAINTEXT://127.0.0.1:BPORT"
  local protocols="CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT"
  if ((sasl)); then
    listeners+=",SASL_SSL://127.0.0.1:SPORT,SSL://127.0.0.1:TPORT"
    advertised+=",SASL_SSL://127.0.0.1:SPORT,SSL://127.0.0.1:TPORT"
    protocols+=",SASL_SSL:SASL_SSL,SSL:SSL"
    make_tls "$dir"
    echo "$sasl_bootstrap" >"$dir/sasl_bootstrap"
    echo "$tls_bootstrap" >"$dir/tls_bootstrap"
  fi
  local cluster_id
  cluster_id=$(head -c16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')
  for ((i = 0; i < brokers; i++)); do
    local nd="$dir/node-$((i + 1))"
    mkdir -p "$nd/data"
    echo "${bports[i]}" >"$nd/port"
    {
      echo "process.roles=broker,controller"
      echo "node.id=$((i + 1))"
      echo "controller.quorum.voters=$voters"
      echo "listeners=$listeners" | sed "s/BPORT/${bports[i]}/; s/CPORT/${cports[i]}/; s/SPORT/${sports[i]}/; s/TPORT/${tports[i]}/"
      echo "advertised.listeners=$advertised" | sed "s/BPORT/${bports[i]}/; s/SPORT/${sports[i]}/; s/TPORT/${tports[i]}/"
      echo "listener.security.protocol.map=$protocols"
      echo "controller.listener.names=CONTROLLER"
      echo "inter.broker.listener.name=PLAINTEXT"
      echo "log.dirs=$nd/data"
      echo "num.partitions=1"
      echo "default.replication.factor=$rf"
      echo "min.insync.replicas=$isr"
      echo "offsets.topic.replication.factor=$rf"
      echo "offsets.topic.num.partitions=8"
      echo "transaction.state.log.replication.factor=$rf"
      echo "transaction.state.log.min.isr=$isr"
      echo "transaction.state.log.num.partitions=8"
      echo "group.initial.rebalance.delay.ms=0"
      echo "auto.create.topics.enable=true"
      echo "num.network.threads=2"
      echo "num.io.threads=4"
      echo "log.segment.bytes=67108864"
      echo "log.retention.check.interval.ms=3600000"
      echo "transaction.abort.timed.out.transaction.cleanup.interval.ms=5000"
      echo "transaction.remove.expired.transaction.cleanup.interval.ms=60000"
      if ((sasl)); then
        echo "sasl.enabled.mechanisms=SCRAM-SHA-256,SCRAM-SHA-512,PLAIN"
        echo "listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_fraud=\"fraud-secret\";"
        echo "listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;"
        echo "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;"
        echo "ssl.keystore.type=PEM"
        echo "ssl.keystore.location=$dir/broker.pem"
        echo "ssl.truststore.type=PEM"
        echo "ssl.truststore.location=$dir/ca.pem"
      fi
    } >"$nd/server.properties"
    local fmt=(format -t "$cluster_id" -c "$nd/server.properties" --ignore-formatted)
    ((sasl)) && fmt+=(--add-scram 'SCRAM-SHA-512=[name="fraud",password="fraud-secret"]' --add-scram 'SCRAM-SHA-256=[name="fraud",password="fraud-secret"]')
    tool "$dir" kafka.tools.StorageTool "${fmt[@]}" >"$nd/format.log" 2>&1 ||
      { cat "$nd/format.log" >&2; exit 1; }
  done
  echo "$bootstrap" >"$dir/bootstrap"
  for ((i = 1; i <= brokers; i++)); do node_start "$dir" "$i"; done
  local nodes=()
  for ((i = 1; i <= brokers; i++)); do nodes+=("$i"); done
  wait_ready "$dir" "${nodes[@]}"
  echo "$bootstrap"
}

make_tls() {  # a CA and a broker certificate for 127.0.0.1 / localhost, PEM
  local dir="$1"
  openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=fraudstream-test-ca" \
    -keyout "$dir/ca.key" -out "$dir/ca.pem" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout "$dir/broker.key" -out "$dir/broker.csr" 2>/dev/null
  printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >"$dir/san.ext"
  openssl x509 -req -in "$dir/broker.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" -CAcreateserial -days 30 \
    -extfile "$dir/san.ext" -out "$dir/broker.crt" 2>/dev/null
  openssl pkcs8 -topk8 -nocrypt -in "$dir/broker.key" -out "$dir/broker.pk8" 2>/dev/null
  cat "$dir/broker.crt" "$dir/broker.pk8" >"$dir/broker.pem"
}

cmd_stop() {  # DIR [NODE]
  local dir="$1" pids=() pid nodes=("$1"/node-*)
  [[ -n "${2:-}" ]] && nodes=("$dir/node-$2")
  for nd in "${nodes[@]}"; do
    [[ -f "$nd/pid" ]] || continue
    pid=$(cat "$nd/pid")
    kill -TERM "$pid" 2>/dev/null && pids+=("$pid")
    kill -CONT "$pid" 2>/dev/null || true
  done
  local deadline=$((SECONDS + 30))
  for pid in "${pids[@]}"; do
    while kill -0 "$pid" 2>/dev/null; do
      ((SECONDS < deadline)) || { kill -KILL "$pid" 2>/dev/null || true; break; }
      sleep 0.2
    done
  done
}

cmd_kill() { kill "-${3:-KILL}" "$(cat "$1/node-$2/pid")"; }

cmd_restart() {
  local dir="$1" node="$2"
  node_start "$dir" "$node"
  wait_ready "$dir" "$node"
}

tool() {  # DIR CLASS ARGS...: one of Kafka's command-line tools, with DIR's version and logging
  local dir="$1"
  shift
  java -Xmx512m -cp "$CACHE/$(cat "$dir/version")/*" -Dlog4j.configuration="file:$dir/log4j.properties" \
    -Dlog4j2.configurationFile="$dir/log4j2.properties" -Dkafka.logs.dir="$dir" "$@"
}

cmd_topic() {  # DIR TOPIC PARTITIONS: creates a topic (kafka-topics --create)
  tool "$1" org.apache.kafka.tools.TopicCommand --bootstrap-server "$(cat "$1/bootstrap")" --create --topic "$2" \
    --partitions "$3" >/dev/null 2>&1
}

cmd_perf() {  # DIR TOPIC RECORDS RECORD_BYTES: Kafka's own perf tools, records/s
  local dir="$1" topic="$2" n="$3" size="$4" b
  b=$(cat "$dir/bootstrap")
  cmd_topic "$dir" "$topic" 64 || true
  local produced consumed
  produced=$(tool "$dir" org.apache.kafka.tools.ProducerPerformance --topic "$topic" --num-records "$n" \
    --record-size "$size" --throughput -1 --producer-props "bootstrap.servers=$b" acks=all linger.ms=5 \
    batch.size=262144 2>/dev/null | tail -1 | sed -n 's/.* records sent, \([0-9.]*\) records\/sec.*/\1/p')
  consumed=$(tool "$dir" org.apache.kafka.tools.ConsumerPerformance --bootstrap-server "$b" --topic "$topic" \
    --messages "$n" --timeout 60000 2>/dev/null | tail -1 | cut -d, -f6 | tr -d ' ')
  echo "producer_perf_records_per_s=$produced consumer_perf_records_per_s=$consumed"
}

cmd_leader() {
  kcat -b "$(cat "$1/bootstrap")" -L -t "$2" -m 5 2>/dev/null |
    sed -n "s/^ *partition $3, leader \([0-9]*\),.*/\1/p"
}

cmd_ensure() {
  local dir="$1"
  if [[ -f "$dir/bootstrap" ]] && listening "$(cat "$dir/node-1/port")"; then
    cat "$dir/bootstrap"
    return
  fi
  [[ -d "$dir" ]] && cmd_stop "$dir"
  rm -rf "$dir"
  cmd_start "$@"
}

case "${1:-}" in
  start) shift; cmd_start "$@" ;;
  ensure) shift; cmd_ensure "$@" ;;
  stop) cmd_stop "$2" "${3:-}" ;;
  kill) cmd_kill "$2" "$3" "${4:-KILL}" ;;
  restart) cmd_restart "$2" "$3" ;;
  leader) cmd_leader "$2" "$3" "$4" ;;
  perf) cmd_perf "$2" "$3" "$4" "$5" ;;
  topic) cmd_topic "$2" "$3" "$4" ;;
  *) sed -n '2,26p' "$0" >&2; exit 2 ;;
esac
