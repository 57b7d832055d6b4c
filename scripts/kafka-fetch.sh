#!/usr/bin/env bash
# Fetches the pinned Apache Kafka brokers (tests/kafka/pom.xml) from Maven
# Central into the cache, once: KAFKA_CACHE (default ~/.cache/fraudstream/kafka)
# gets one directory of jars per version. Prints nothing when already there.
#   scripts/kafka-fetch.sh            # both pinned versions
#   scripts/kafka-fetch.sh 3          # only the 3.9 line (or 4)
#   scripts/kafka-fetch.sh version 4  # prints the version pinned for a line
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE="${KAFKA_CACHE:-$HOME/.cache/fraudstream/kafka}"
POM=tests/kafka/pom.xml
pinned() {  # the version a profile pins, read from the pom: the first <kafka.version> is the default's
  local nth=1
  [[ "$1" != default ]] && nth=2
  sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$POM" | sed -n "${nth}p"
}
fetch() {
  local profile="$1" version dir
  version=$(pinned "$profile")
  dir="$CACHE/$version"
  [[ -f "$dir/.complete" ]] && return 0
  echo "fetching Apache Kafka $version into $dir" >&2
  rm -rf "$dir" && mkdir -p "$dir"
  local args=(-q -B -Dstyle.color=never -f "$POM" dependency:copy-dependencies "-DoutputDirectory=$dir")
  [[ "$profile" != default ]] && args+=(-P "$profile")
  mvn "${args[@]}" >&2
  ls "$dir"/kafka_2.13-"$version".jar >/dev/null
  touch "$dir/.complete"
}
case "${1:-all}" in
  3) fetch default ;;
  4) fetch kafka4 ;;
  all) fetch default; fetch kafka4 ;;
  version) if [[ "${2:-}" == 4 ]]; then pinned kafka4; else pinned default; fi ;;
  *) echo "usage: $0 [3|4|all|version 3|version 4]" >&2; exit 2 ;;
esac
