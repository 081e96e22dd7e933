#!/usr/bin/env bash
# The benchmarks, each printing its measurement beside a yardstick timed in the same run:
#   bash scripts/bench.sh broker [--clients N] [--seconds S] [--store sqlite|postgres --postgres CS] [--rate R] [--json]
#   bash scripts/bench.sh verify [--samples DIR] [--seconds S] [--json]
#   bash scripts/bench.sh secagg [--clients N] [--params M] [--dropout D] [--json]
#   bash scripts/bench.sh fl [--model mlp|cnn] [--regions 3] [--rounds R] [--dp-epsilon E] [--json]   (runs the demo too)
# `bash scripts/bench.sh NAME --help` lists every option. The bench program (bench/Enclave.Bench) is built
# when any of its sources, or of the components it measures, is newer than the build.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dll="$root/bench/Enclave.Bench/bin/Release/net10.0/enclave-bench.dll"
if [ ! -f "$dll" ] || [ -n "$(find "$root/src" "$root/bench" "$root/Directory.Build.props" "$root/Directory.Packages.props" -newer "$dll" -type f \( -name '*.cs' -o -name '*.csproj' -o -name '*.proto' -o -name '*.props' \) -not -path '*/obj/*' -not -path '*/bin/*' -print -quit)" ]; then
  bash "$root/scripts/bootstrap.sh" --no-build >&2
  dotnet build "$root/bench/Enclave.Bench/Enclave.Bench.csproj" -c Release -nologo -v quiet -clp:ErrorsOnly >&2
fi
# The fl benchmark runs the demo as well: build the CLI (and the enclave it carries) when stale.
if [ "${1:-}" = fl ]; then
  bash "$root/scripts/enclave" --help >/dev/null
fi
exec dotnet "$dll" "$@"
