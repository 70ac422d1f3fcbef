#!/usr/bin/env bash
# The main demo, from a fresh clone: setup, then the demo on embedded defaults.
# Extra arguments go to the demo script (see its --help).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec npx --no-install ts-node examples/seed-deployment.ts "$@"
