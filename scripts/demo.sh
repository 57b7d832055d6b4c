#!/usr/bin/env bash
# Sets up everything and runs the main job on the embedded defaults: the
# embedded Kafka cluster, the in-memory feature store (or DEMO_REDIS=redis://...),
# the shipped micro-lending pack, and a synthetic lending stream with fraud
# rings, device farms, loan stacking and cash-out mixed into normal traffic.
# Prints a live one-line summary every second; /metrics on :9464.
# DEMO_SECONDS=0 runs until Ctrl-C; DEMO_RATE sets the offered events/s.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh
./build/fraudstream check rules
./build/fraudstream test rules | tail -1
exec ./build/fraudstream demo --rules rules --redis "${DEMO_REDIS:-memory}" \
  --rate "${DEMO_RATE:-5000}" --duration "${DEMO_SECONDS:-30}"
