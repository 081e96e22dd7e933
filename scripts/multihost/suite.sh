# Sourced by scripts/test.sh after the dotnet tests and the fuzz regressions: the multi-host deployment check
# (scripts/multihost.sh, docs/deploy.md) counts as one test; where it cannot run, the reason is printed and it is
# skipped. Updates test.sh's passed, failed and status.
if [ "$(id -u)" -ne 0 ]; then
  echo "multihost: skipped (needs root to create network namespaces)"
elif ! command -v ip >/dev/null || ! ip netns list >/dev/null 2>&1; then
  echo "multihost: skipped (ip netns is not available)"
else
  multihost_json=$(mktemp)
  if ENCLAVE_MULTIHOST_NO_BUILD=1 bash scripts/multihost.sh --rounds 2 --json "$multihost_json"; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    [ "$status" -ne 0 ] || status=1
  fi
  rm -f "$multihost_json"
fi
