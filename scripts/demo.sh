#!/usr/bin/env bash
# One command: install what is missing, build, and run a simulated confidential federation on loopback.
#   bash scripts/demo.sh [--rounds N] [--regions eu-west,us-east,ap-south] [--json PATH]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# Install what is missing, then run: scripts/enclave builds the CLI (and the enclave it carries) only when a source
# is newer than the build, so a second run starts the federation at once.
bash scripts/bootstrap.sh --no-build
exec bash scripts/enclave demo "$@"
