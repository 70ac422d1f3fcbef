#!/usr/bin/env bash
# The whole test suite, from a fresh clone: setup, lint, type check, tests.
# Extra arguments go to jest (e.g. `npm test -- packages/cib`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
echo '[test] lint (eslint + prettier)' >&2
npm run --silent lint
echo '[test] generated code is up to date (protoc + ts-proto)' >&2
npm run --silent gen:check --workspaces --if-present
echo '[test] type check (sources, tests, examples)' >&2
npm run --silent typecheck
echo '[test] jest' >&2
NODE_OPTIONS=--experimental-vm-modules npx jest "$@"
