#!/usr/bin/env bash
# The main job on a fresh machine: set up, build, and run examples/alibaba-train. Extra arguments go to it.
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"

ensure_node_deps
build_all
log "examples/alibaba-train $*"
exec node examples/alibaba-train/dist/main.js "$@"
