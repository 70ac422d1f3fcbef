#!/usr/bin/env bash
# Generate TypeScript from the .proto with protoc + ts-proto (grpc-js services).
# `gen.sh --check` fails when the committed src/gen differs from a fresh generation.
set -euo pipefail
cd "$(dirname "$0")/.."
plugin="$(cd ../.. && pwd)/node_modules/.bin/protoc-gen-ts_proto"
out=src/gen
if [[ "${1:-}" == "--check" ]]; then out="$(mktemp -d)"; trap 'rm -rf "$out"' EXIT; fi
mkdir -p "$out"
protoc --plugin="protoc-gen-ts_proto=$plugin" --proto_path=proto \
  --ts_proto_out="$out" \
  --ts_proto_opt=outputServices=grpc-js,env=node,esModuleInterop=true,useOptionals=none,forceLong=number,oneof=unions-value,useDate=false,importSuffix= \
  proto/remora/remote/v1/remote.proto
npx --no-install prettier --config ../../.prettierrc.json --ignore-path /dev/null --log-level warn --write "$out" >/dev/null
if [[ "${1:-}" == "--check" ]]; then
  if ! diff -r "$out" src/gen >/dev/null; then
    echo "src/gen is stale: run 'npm run gen --workspace @remora/remote-transport' and commit it" >&2
    diff -r "$out" src/gen | head -20 >&2
    exit 1
  fi
  echo "src/gen is up to date"
fi
