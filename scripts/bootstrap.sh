#!/usr/bin/env bash
# Installs what the project needs on a fresh Debian 12 machine with the .NET 10 SDK, then builds. Idempotent.
#   bash scripts/bootstrap.sh [--no-build]   --no-build: install only (scripts/enclave builds the CLI when needed)
#   Debian packages: dataset-fashion-mnist (training data), patchelf + binutils + gcc (TorchSharp native fix-up),
#   afl++ (coverage-guided fuzzing, scripts/fuzz.sh)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

packages=(dataset-fashion-mnist patchelf binutils gcc afl++)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "bootstrap: installing ${missing[*]}"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
fi

command -v dotnet >/dev/null || { echo "bootstrap: the .NET 10 SDK is required (dotnet not on PATH)" >&2; exit 1; }
dotnet tool restore >/dev/null

if [ "${1:-}" = "--no-build" ]; then
  exit 0
fi

echo "bootstrap: restoring and building (Release)"
dotnet build Enclave.sln -c Release -nologo -v quiet -clp:ErrorsOnly
