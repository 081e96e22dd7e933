#!/usr/bin/env bash
# Runs the whole test suite (unit, architecture, end-to-end on loopback) after installing what is missing.
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
echo "tests: ${passed:-0} passed, ${failed:-0} failed"
exit $status
