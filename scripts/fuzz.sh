#!/usr/bin/env bash
# Coverage-guided fuzzing of the parsers of untrusted bytes (fuzz/Enclave.Fuzz) with AFL++ and SharpFuzz.
#
#   bash scripts/fuzz.sh --list                  the targets and the parser each drives
#   bash scripts/fuzz.sh TARGET SECONDS          fuzzes one target for SECONDS
#   bash scripts/fuzz.sh all SECONDS             fuzzes every target, one after the other, SECONDS each
#   bash scripts/fuzz.sh --replay TARGET FILE    runs one input (or every file of a folder) without AFL
#   bash scripts/fuzz.sh --regress               replays every target's seeds, committed corpus and test vectors
#                                                (deterministic, no AFL, about a second); what CI runs
#
# Installs afl++ (apt) and the pinned SharpFuzz.CommandLine tool (.config/dotnet-tools.json) when missing,
# builds the harness, instruments a copy of the Enclave.*.dll under test, seeds each corpus from
# fuzz/corpus/TARGET, generated seeds and the shared test vectors (../shared/vectors), runs afl-fuzz and prints
#   fuzz TARGET: execs=N crashes=M hangs=H seconds=S
# per target. Crash inputs are copied to fuzz/findings/TARGET/ and escaping exceptions to
# fuzz/findings/TARGET.exceptions.log. Exits non-zero when any target crashed.
#
# Environment: ENCLAVE_FUZZ_NO_BUILD=1 uses the existing Release build; ENCLAVE_FUZZ_WORK (default
# fuzz/.work) holds instrumented assemblies, corpora and AFL output; ENCLAVE_FUZZ_TIMEOUT_MS (default 5000)
# is the per-input time limit; ENCLAVE_FUZZ_SAVE_CORPUS=1 adds the campaign's queue (inputs of at most 16 KiB that
# reached new coverage) to fuzz/corpus/TARGET/ as q-SHA256PREFIX files, so --regress replays them from then on.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$(pwd)

project=fuzz/Enclave.Fuzz
build_dir=$project/bin/Release/net10.0
work=${ENCLAVE_FUZZ_WORK:-$root/fuzz/.work}
vectors=$root/../shared/vectors
timeout_ms=${ENCLAVE_FUZZ_TIMEOUT_MS:-5000}

usage() {
  sed -n '4,9p' "${BASH_SOURCE[0]}" | sed 's/^#  //' >&2
  exit 2
}

ensure_afl() {
  command -v afl-fuzz >/dev/null && return
  echo "fuzz: installing afl++"
  local sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq afl++ >/dev/null
}

build() {
  if [ "${ENCLAVE_FUZZ_NO_BUILD:-}" != 1 ] || [ ! -f "$build_dir/Enclave.Fuzz.dll" ]; then
    dotnet build "$project" -c Release -nologo -v quiet -clp:ErrorsOnly >&2
  fi
}

harness() {
  dotnet "$build_dir/Enclave.Fuzz.dll" "$@"
}

# A copy of the build output whose Enclave assemblies (all but the harness) carry AFL instrumentation.
# Re-made only when the build output changed.
instrument() {
  dotnet tool restore >/dev/null
  local bin=$work/bin stamp
  stamp=$(cat "$build_dir"/Enclave.*.dll | sha256sum | cut -d' ' -f1)
  if [ -f "$bin/.instrumented" ] && [ "$(cat "$bin/.instrumented")" = "$stamp" ]; then
    return
  fi

  rm -rf "$bin"
  mkdir -p "$work"
  cp -a "$build_dir" "$bin"
  local dll
  for dll in "$bin"/Enclave.*.dll; do
    [ "$(basename "$dll")" = Enclave.Fuzz.dll ] && continue
    dotnet sharpfuzz "$dll" >/dev/null
  done
  echo "$stamp" >"$bin/.instrumented"
}

stat_value() {
  local value
  value=$(awk -F: -v key="$2" '{ gsub(/ /, "", $1) } $1 == key { gsub(/ /, "", $2); print $2; exit }' "$1" 2>/dev/null)
  echo "${value:-0}"
}

save_queue() {
  local target=$1 queue=$2 file name added=0
  mkdir -p "fuzz/corpus/$target"
  for file in "$queue"/id:*; do
    [ -f "$file" ] && [ "$(stat -c %s "$file")" -le 16384 ] || continue
    # Inputs that came from the seeds are already replayed from their origin.
    case "$file" in *,orig:*) continue ;; esac
    name=q-$(sha256sum "$file" | cut -c1-16)
    [ -f "fuzz/corpus/$target/$name" ] && continue
    cp "$file" "fuzz/corpus/$target/$name"
    added=$((added + 1))
  done
  echo "fuzz $target: $added queue inputs added to fuzz/corpus/$target"
}

fuzz_one() {
  local target=$1 seconds=$2
  local in=$work/in/$target out=$work/out/$target
  rm -rf "$in" "$out"
  mkdir -p "$in" "$out"
  if [ -d "fuzz/corpus/$target" ]; then
    cp fuzz/corpus/"$target"/* "$in"/ 2>/dev/null || true
  fi
  harness --seeds "$target" "$in" "$vectors" >/dev/null

  local rc=0
  ENCLAVE_FUZZ_LOG=$out/exceptions.log AFL_SKIP_BIN_CHECK=1 AFL_NO_UI=1 AFL_SKIP_CPUFREQ=1 AFL_NO_AFFINITY=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 \
    AFL_FORKSRV_INIT_TMOUT=60000 AFL_FAST_CAL=1 AFL_QUIET=1 \
    timeout -k 10 $((seconds + 180)) \
    afl-fuzz -i "$in" -o "$out" -V "$seconds" -t "$timeout_ms+" -m none -- \
    dotnet "$work/bin/Enclave.Fuzz.dll" "$target" >"$out/afl.log" 2>&1 || rc=$?

  local stats=$out/default/fuzzer_stats
  if [ ! -f "$stats" ]; then
    echo "fuzz $target: error: afl-fuzz did not start (exit $rc); see $out/afl.log"
    tail -n 5 "$out/afl.log" | sed 's/^/  /'
    return 1
  fi

  local execs crashes hangs run_time
  execs=$(stat_value "$stats" execs_done)
  crashes=$(stat_value "$stats" saved_crashes)
  [ "$crashes" = 0 ] && crashes=$(stat_value "$stats" unique_crashes)
  hangs=$(stat_value "$stats" saved_hangs)
  [ "$hangs" = 0 ] && hangs=$(stat_value "$stats" unique_hangs)
  run_time=$(stat_value "$stats" run_time)

  # A crash counts when the target threw (the harness logs every escaping exception) or when its input also
  # fails when replayed without AFL. A process that died with neither (seen rarely on a heavily loaded
  # machine) is reported as unconfirmed, with its inputs kept, but does not fail the run.
  local unconfirmed=0
  if [ "$crashes" -gt 0 ]; then
    mkdir -p "fuzz/findings/$target"
    cp "$out"/default/crashes/id:* "fuzz/findings/$target/" 2>/dev/null || true
    if [ ! -s "$out/exceptions.log" ] && harness --replay "$target" "fuzz/findings/$target" >/dev/null 2>&1; then
      unconfirmed=$crashes
      crashes=0
    fi
  fi

  if [ "${ENCLAVE_FUZZ_SAVE_CORPUS:-}" = 1 ] && [ -d "$out/default/queue" ]; then
    save_queue "$target" "$out/default/queue"
  fi

  local summary="fuzz $target: execs=$execs crashes=$crashes hangs=$hangs seconds=$run_time"
  [ "$unconfirmed" -gt 0 ] && summary="$summary unconfirmed=$unconfirmed"
  echo "$summary"

  if [ "$unconfirmed" -gt 0 ]; then
    echo "  the target process died without a managed exception and the inputs pass when replayed; kept in fuzz/findings/$target/"
  fi

  if [ "$crashes" -gt 0 ]; then
    if [ -s "$out/exceptions.log" ]; then
      cp "$out/exceptions.log" "fuzz/findings/$target.exceptions.log"
      grep -m 3 '^input sha256' "$out/exceptions.log" | cut -c1-300 | sed 's/^/  /'
    else
      echo "  the target process died without a managed exception (stack overflow, access violation or killed)"
    fi
    echo "  crash inputs in fuzz/findings/$target/; reproduce with: bash scripts/fuzz.sh --replay $target fuzz/findings/$target"
    return 1
  fi
}

[ $# -ge 1 ] || usage
case "$1" in
  --list)
    build
    harness --list
    ;;
  --replay)
    [ $# -ge 3 ] || usage
    build
    shift
    harness --replay "$@"
    ;;
  --regress)
    build
    dotnet "$build_dir/Enclave.Fuzz.dll" --regress fuzz/corpus "$vectors"
    ;;
  -*)
    usage
    ;;
  *)
    [ $# -eq 2 ] && [[ $2 =~ ^[0-9]+$ ]] && [ "$2" -gt 0 ] || usage
    ensure_afl
    build
    instrument
    if [ "$1" = all ]; then
      mapfile -t targets < <(harness --list | awk '{ print $1 }')
    else
      harness --list | awk '{ print $1 }' | grep -qxF "$1" || { echo "fuzz: no target '$1' (see --list)" >&2; exit 2; }
      targets=("$1")
    fi

    failed=0
    for target in "${targets[@]}"; do
      fuzz_one "$target" "$2" || failed=$((failed + 1))
    done
    if [ "${#targets[@]}" -gt 1 ]; then
      echo "fuzz: ${#targets[@]} targets, $failed failed"
    fi
    [ "$failed" -eq 0 ]
    ;;
esac
