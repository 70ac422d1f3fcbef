#!/usr/bin/env bash
# Idempotent setup for a fresh Debian 12 machine with Node 20:
#   1. Debian packages listed in scripts/apt-packages.txt (only the missing ones),
#   2. npm ci (only when package-lock.json changed since the last install),
#   3. npm run build (incremental).
# Safe to run again and again; prints one line per step.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[setup] %s\n' "$*" >&2; }

node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt 20 ]; then
  log "Node.js >= 20.19 is required (found: $(node --version 2>/dev/null || echo none))"
  exit 1
fi

# --- Debian packages -------------------------------------------------------
mapfile -t wanted < <(sed -e 's/#.*//' -e 's/[[:space:]]//g' scripts/apt-packages.txt | grep -v '^$')
missing=()
for pkg in "${wanted[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  [ "$status" = "install ok installed" ] || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "${REMORA_SKIP_APT:-}" = 1 ]; then
    log "REMORA_SKIP_APT=1: not installing missing Debian packages: ${missing[*]}"
  else
    sudo=()
    if [ "$(id -u)" -ne 0 ]; then
      command -v sudo >/dev/null || { log "need root (or sudo) to install: ${missing[*]}"; exit 1; }
      sudo=(sudo)
    fi
    log "installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    "${sudo[@]}" apt-get update -qq
    "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
else
  log "Debian packages: all ${#wanted[@]} present"
fi

# --- npm dependencies ------------------------------------------------------
stamp=node_modules/.remora-lock.sha256
want_hash=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want_hash" ]; then
  log "npm ci"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$want_hash" > "$stamp"
else
  log "npm dependencies: up to date"
fi

# --- build -----------------------------------------------------------------
log "building (tsc -b)"
npm run --silent build
log "ready: node_modules/.bin/remora"
