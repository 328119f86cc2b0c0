#!/usr/bin/env bash
# Shared set-up for a fresh machine: pnpm through corepack, dependencies, build. Sourced by main.sh and test.sh.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export TURBO_TELEMETRY_DISABLED=1
# corepack's bundled signing keys can be older than the registry's: verify through the registry instead.
export COREPACK_INTEGRITY_KEYS=0
export COREPACK_ENABLE_DOWNLOAD_PROMPT=0

log() { printf '\n== %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null 2>&1; then sudo "$@"; else return 1; fi
}

APT_UPDATED=0
apt_update_once() {
  if [ "$APT_UPDATED" = 0 ]; then as_root apt-get update -qq >/dev/null; APT_UPDATED=1; fi
}

# ensure_apt PACKAGE... : install the Debian packages that are missing (no-op when all are there).
ensure_apt() {
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  if ! command -v apt-get >/dev/null 2>&1; then echo "missing system packages: ${missing[*]} (install them by hand)" >&2; return 1; fi
  log "apt-get install ${missing[*]}"
  apt_update_once
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

ensure_node_deps() {
  if ! command -v pnpm >/dev/null 2>&1 || ! pnpm --version >/dev/null 2>&1; then
    log "enabling pnpm through corepack"
    as_root corepack enable || corepack enable
  fi
  log "pnpm install ($(pnpm --version))"
  pnpm install --frozen-lockfile --prefer-offline
}

build_all() {
  log "build"
  pnpm -s turbo run build --output-logs=errors-only
}
