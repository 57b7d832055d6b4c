#!/usr/bin/env bash
# Sets up everything and runs the main job on the embedded defaults: the
# shipped micro-lending pack is checked, tested, and replayed over the shipped
# sample stream; verdicts land in build/verdicts.jsonl.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh
./build/fraudstream check rules
./build/fraudstream test rules | tail -1
./build/fraudstream replay --rules rules --events docs/samples/loan-events.jsonl --out build/verdicts.jsonl
echo
echo "first verdicts (build/verdicts.jsonl):"
grep -m 3 '"decision":"decline"' build/verdicts.jsonl
