#!/usr/bin/env bash
# Runs the demo N times (default 10) and prints each run's final accuracy, then how many reached the bar:
#   bash scripts/demo-repeat.sh [N] [--bar 0.80] [DEMO OPTIONS...]     e.g. bash scripts/demo-repeat.sh 10 --rounds 3
# Exits non-zero when any run ends below the bar. Slow (a full demo per run), so outside the default suite.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
runs=10 bar=0.80
if [[ ${1:-} =~ ^[0-9]+$ ]]; then runs=$1; shift; fi
if [ "${1:-}" = "--bar" ]; then bar=$2; shift 2; fi
bash scripts/bootstrap.sh --no-build >/dev/null
work=$(mktemp -d /tmp/enclave-demo-repeat.XXXXXX)
trap 'rm -rf "$work"' EXIT
reached=0
for i in $(seq "$runs"); do
  bash scripts/enclave demo --work-dir "$work/run" --json "$work/run.json" "$@" >"$work/run.log" 2>&1 || { tail -20 "$work/run.log" >&2; echo "run $i: demo failed" >&2; exit 1; }
  accuracy=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["finalAccuracy"])' "$work/run.json")
  ok=$(python3 -c 'import sys; print(1 if float(sys.argv[1]) >= float(sys.argv[2]) else 0)' "$accuracy" "$bar")
  reached=$((reached + ok))
  echo "run $i: final accuracy $accuracy"
done
echo "demo-repeat: $reached of $runs runs reached $bar"
[ "$reached" -eq "$runs" ]
