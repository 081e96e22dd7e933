#!/usr/bin/env bash
# One command: install what is missing, build, and run a simulated confidential federation on loopback.
#   bash scripts/demo.sh [--rounds N] [--regions eu-west,us-east,ap-south] [--json PATH]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/bootstrap.sh
exec bash scripts/enclave demo "$@"
