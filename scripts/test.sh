#!/usr/bin/env bash
# Runs the whole test suite (unit, architecture, end-to-end on loopback) after installing what is missing, then
# replays every fuzz target's seeds, committed corpus and past findings (scripts/fuzz.sh --regress, deterministic).
# ENCLAVE_FUZZ_SECONDS=N also fuzzes every target for N seconds with AFL++ (exploratory, so off by default: a
# suite must not fail on what a random search happened to reach today; campaigns feed the committed corpus).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/bootstrap.sh
# PostgreSQL and SoftHSM2 for the store and master-key tests (exports ENCLAVE_TEST_* and SOFTHSM2_CONF).
. scripts/ci-services.sh

log=$(mktemp)
trap 'rm -f "$log"; bash scripts/ci-services.sh stop' EXIT
status=0
dotnet test Enclave.sln -c Release --no-build -nologo "$@" 2>&1 | tee "$log" || status=$?

count() { grep -Eo "$1: *[0-9]+" "$log" | grep -Eo '[0-9]+' | awk '{ s += $1 } END { print s + 0 }'; }
passed=$(count Passed)
failed=$(count Failed)

# Every fuzz target over its regression inputs; each target is one test, each finding one failure.
fuzz_status=0
ENCLAVE_FUZZ_NO_BUILD=1 bash scripts/fuzz.sh --regress 2>&1 | tee "$log" || fuzz_status=$?
regress_targets=$(grep -Ec '^regress [^:]+: [0-9]+ inputs' "$log" || true)
regress_failed=$({ grep -E '^regress [^:]+: FINDING' "$log" || true; } | cut -d: -f1 | sort -u | wc -l)
passed=$((passed + regress_targets - regress_failed))
failed=$((failed + regress_failed))
if [ "$fuzz_status" -ne 0 ] && [ "$status" -eq 0 ]; then
  status=$fuzz_status
fi

. scripts/multihost/suite.sh  # the by-hand deployment across network namespaces, one test (skipped unless root)

fuzz_seconds=${ENCLAVE_FUZZ_SECONDS:-0}
if [ "$fuzz_seconds" -gt 0 ]; then
  fuzz_status=0
  ENCLAVE_FUZZ_NO_BUILD=1 bash scripts/fuzz.sh all "$fuzz_seconds" 2>&1 | tee "$log" || fuzz_status=$?
  fuzz_passed=$(grep -Ec '^fuzz [^:]+: execs=[0-9]+ crashes=0 ' "$log" || true)
  fuzz_failed=$(grep -Ec '^fuzz [^:]+: (execs=[0-9]+ crashes=[1-9]|error)' "$log" || true)
  passed=$((passed + fuzz_passed))
  failed=$((failed + fuzz_failed))
  if [ "$fuzz_status" -ne 0 ] && [ "$status" -eq 0 ]; then
    status=$fuzz_status
  fi
fi

echo "tests: ${passed:-0} passed, ${failed:-0} failed"
exit $status
