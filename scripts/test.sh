#!/usr/bin/env bash
# Runs every test on a fresh machine: installs what the tests need, builds, runs vitest and the package checks.
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"

ensure_node_deps
# System packages for the cross-backend suite (WebGPU on Mesa lavapipe) and the browser-demo test (chromium).
ensure_webgpu_driver
ensure_chromium
# A real Redis for the @rec/serve integration tests (they start their own server on a free loopback port).
ensure_apt redis-server
build_all

export REC_DATA_DIR="${REC_DATA_DIR:-$ROOT/../shared/data}"
log "vitest (REC_DATA_DIR=$REC_DATA_DIR)"
VITEST_JSON="$(mktemp -t vitest-XXXXXX.json)"
pnpm -s vitest run --reporter=default --reporter=json --outputFile.json="$VITEST_JSON"

log "notebook (tslab kernel, executed headless)"
REC_SKIP_BUILD=1 bash examples/notebooks/run.sh

log "typecheck"
pnpm -s turbo run typecheck --output-logs=errors-only

log "publint + pack/install/import check"
pnpm -s turbo run lint:package --output-logs=errors-only
node scripts/check-pack.mjs

# One plain closing line with the counts (vitest's own summary is not in the "N passed, N failed" form).
node -e "const r=require(process.argv[1]); console.log('tests: ' + r.numPassedTests + ' passed, ' + r.numFailedTests + ' failed, ' + (r.numPendingTests + r.numTodoTests) + ' skipped')" "$VITEST_JSON"
