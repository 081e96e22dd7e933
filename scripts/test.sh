#!/usr/bin/env bash
# Runs the whole test suite (unit, architecture, end-to-end on loopback) after installing what is missing, then
# fuzzes every parser of untrusted bytes briefly (scripts/fuzz.sh; ENCLAVE_FUZZ_SECONDS per target, default 5, 0 skips).
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

# Every fuzz target briefly (ENCLAVE_FUZZ_SECONDS each, 0 disables); a target that crashes counts as a failure.
fuzz_seconds=${ENCLAVE_FUZZ_SECONDS:-5}
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
