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
  if [ "$APT_UPDATED" = 0 ]; then as_root apt-get -o DPkg::Lock::Timeout=600 update -qq >/dev/null; APT_UPDATED=1; fi
}

# ensure_apt PACKAGE... : install the Debian packages that are missing (no-op when all are there).
ensure_apt() {
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  if ! command -v apt-get >/dev/null 2>&1; then echo "missing system packages: ${missing[*]} (install them by hand)" >&2; return 1; fi
  log "apt-get install ${missing[*]}"
  apt_update_once
  DEBIAN_FRONTEND=noninteractive as_root apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
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

# ensure_backports : add bookworm-backports to the existing Debian source (no host is named here; the one already
# configured is reused). Idempotent: does nothing when the suite is already listed or the file is not there.
ensure_backports() {
  local src=/etc/apt/sources.list.d/debian.sources
  if [ ! -f "$src" ]; then
    # Older one-line format: reuse the main archive's URI from sources.list for a backports line.
    grep -rqsE '^deb .* bookworm-backports ' /etc/apt/sources.list /etc/apt/sources.list.d/ && return 0
    local uri
    uri="$(awk '$1 == "deb" && $3 == "bookworm" { print $2; exit }' /etc/apt/sources.list 2>/dev/null || true)"
    [ -n "$uri" ] || { echo "no $src and no bookworm line in sources.list: enable bookworm-backports by hand" >&2; return 1; }
    log "enabling bookworm-backports (sources.list.d/bookworm-backports.list)"
    echo "deb $uri bookworm-backports main" | as_root tee /etc/apt/sources.list.d/bookworm-backports.list >/dev/null
    APT_UPDATED=0
    return 0
  fi
  grep -qE '^Suites:.*\bbookworm-backports\b' "$src" && return 0
  log "enabling bookworm-backports in $src"
  # Only the main archive's entry (`Suites: bookworm ...`, not `bookworm-security`) gets the backports suite.
  as_root sed -E -i '0,/^Suites: bookworm( |$)/s//Suites: bookworm bookworm-backports\1/' "$src"
  APT_UPDATED=0
}

# ensure_webgpu_driver : Mesa's lavapipe (CPU Vulkan) from bookworm-backports, so Dawn (the `webgpu` npm package)
# finds an adapter on a machine without a GPU. Bookworm's own Mesa 22.3 is rejected by Dawn: we need >= 24.
ensure_webgpu_driver() {
  local v
  v="$(dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null || true)"
  if [ -n "$v" ] && dpkg --compare-versions "$v" ge 24 && dpkg -s libvulkan1 >/dev/null 2>&1; then return 0; fi
  command -v apt-get >/dev/null 2>&1 || { echo "no apt-get: install Mesa >= 24 lavapipe (mesa-vulkan-drivers) by hand for WebGPU tests" >&2; return 1; }
  ensure_backports || return 1
  log "apt-get install -t bookworm-backports mesa-vulkan-drivers libvulkan1"
  apt_update_once
  DEBIAN_FRONTEND=noninteractive as_root apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends \
    -t bookworm-backports mesa-vulkan-drivers libvulkan1 >/dev/null
}

# ensure_chromium : Debian's chromium for the browser-demo test (driven headless by playwright-core).
ensure_chromium() {
  [ -x /usr/bin/chromium ] && return 0
  ensure_apt chromium
}
