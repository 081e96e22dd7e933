#!/usr/bin/env bash
# Services the store and master-key tests run against, private to this machine user and idempotent:
#   - a PostgreSQL 15 cluster in a state directory, listening on a loopback port only, password auth
#   - a SoftHSM2 token "enclave-test" in the same state directory, with its own SOFTHSM2_CONF
# Source it (". scripts/ci-services.sh") to get the variables the tests read:
#   ENCLAVE_TEST_POSTGRES, ENCLAVE_TEST_PKCS11_MODULE, ENCLAVE_TEST_PKCS11_TOKEN, ENCLAVE_TEST_PKCS11_PIN,
#   SOFTHSM2_CONF. Run "bash scripts/ci-services.sh stop" to stop the cluster.
# Installs the Debian packages postgresql and softhsm2 when missing (apt-get; sudo only when not root).
# PostgreSQL refuses to run as root; when root, the cluster runs as the "postgres" system user instead.

_ecs_main() {
  local state="${ENCLAVE_CI_STATE:-${TMPDIR:-/tmp}/enclave-ci-services-$(id -u)}"
  local pgbin=/usr/lib/postgresql/15/bin
  local module=/usr/lib/softhsm/libsofthsm2.so
  local label=enclave-test

  if [ "${1:-}" = "stop" ]; then
    if [ -f "$state/pg/data/postmaster.pid" ]; then
      _ecs_as_pg "$state" "$pgbin/pg_ctl" -D "$state/pg/data" -m fast -w stop >/dev/null || true
    fi
    return 0
  fi

  local missing=() p
  for p in postgresql softhsm2; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "ci-services: installing ${missing[*]}"
    local sudo_cmd=()
    [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
    "${sudo_cmd[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
  [ -x "$pgbin/initdb" ] || { echo "ci-services: $pgbin/initdb not found (PostgreSQL 15 expected)" >&2; return 1; }
  [ -f "$module" ] || { echo "ci-services: $module not found" >&2; return 1; }

  mkdir -p "$state"
  chmod 0711 "$state"

  # ---- PostgreSQL ----
  local pgdir="$state/pg"
  if [ ! -f "$pgdir/data/PG_VERSION" ]; then
    rm -rf "$pgdir"
    mkdir -p "$pgdir"
    head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$pgdir/password"
    chmod 0700 "$pgdir"
    chmod 0600 "$pgdir/password"
    [ "$(id -u)" -ne 0 ] || chown -R postgres:postgres "$pgdir"
    _ecs_as_pg "$state" "$pgbin/initdb" -D "$pgdir/data" -U enclave --pwfile="$pgdir/password" \
      --auth=scram-sha-256 -E UTF8 --locale=C.UTF-8 >"$pgdir/initdb.log" 2>&1 \
      || { cat "$pgdir/initdb.log" >&2; return 1; }
  fi
  local password port
  password=$(cat "$pgdir/password")
  if ! _ecs_as_pg "$state" "$pgbin/pg_ctl" -D "$pgdir/data" status >/dev/null 2>&1; then
    port=$(_ecs_free_port)
    echo "$port" >"$pgdir/port"
    [ "$(id -u)" -ne 0 ] || chown postgres:postgres "$pgdir/port"
    _ecs_as_pg "$state" "$pgbin/pg_ctl" -D "$pgdir/data" -l "$pgdir/server.log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories='$pgdir' -c max_connections=200" start >/dev/null \
      || { tail -20 "$pgdir/server.log" >&2; return 1; }
  fi
  port=$(cat "$pgdir/port")
  if ! PGPASSWORD="$password" "$pgbin/psql" -h 127.0.0.1 -p "$port" -U enclave -d postgres -tAc \
      "SELECT 1 FROM pg_database WHERE datname = 'enclave_test'" | grep -q 1; then
    PGPASSWORD="$password" "$pgbin/createdb" -h 127.0.0.1 -p "$port" -U enclave enclave_test
  fi
  export ENCLAVE_TEST_POSTGRES="Host=127.0.0.1;Port=$port;Username=enclave;Password=$password;Database=enclave_test"

  # ---- SoftHSM2 ----
  local hsm="$state/softhsm"
  mkdir -p "$hsm/tokens"
  chmod 0700 "$hsm"
  printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n' \
    "$hsm/tokens" >"$hsm/softhsm2.conf"
  export SOFTHSM2_CONF="$hsm/softhsm2.conf"
  if [ ! -f "$hsm/pin" ]; then
    head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$hsm/pin"
    head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$hsm/so-pin"
    chmod 0600 "$hsm/pin" "$hsm/so-pin"
  fi
  if ! softhsm2-util --show-slots 2>/dev/null | grep -Eq "Label:[[:space:]]+$label[[:space:]]*\$"; then
    softhsm2-util --init-token --free --label "$label" --pin "$(cat "$hsm/pin")" --so-pin "$(cat "$hsm/so-pin")" >/dev/null
  fi
  export ENCLAVE_TEST_PKCS11_MODULE="$module"
  export ENCLAVE_TEST_PKCS11_TOKEN="$label"
  ENCLAVE_TEST_PKCS11_PIN=$(cat "$hsm/pin")
  export ENCLAVE_TEST_PKCS11_PIN
  echo "ci-services: PostgreSQL on 127.0.0.1:$port, SoftHSM2 token $label ($SOFTHSM2_CONF)"
}

# Runs a PostgreSQL binary as the current user, or as "postgres" when root (PostgreSQL refuses root).
_ecs_as_pg() {
  shift
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

_ecs_free_port() {
  local port
  for port in $(seq 55432 55531); do
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return 0
    fi
  done
  echo "ci-services: no free port in 55432-55531" >&2
  return 1
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  _ecs_main "$@"
else
  _ecs_main "$@"
fi
