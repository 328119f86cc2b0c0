#!/usr/bin/env bash
# Execute the notebooks here headless with the tslab TypeScript kernel; exits non-zero on any cell error.
#   bash examples/notebooks/run.sh            # evaluate.ipynb
#   bash examples/notebooks/run.sh other.ipynb
# Installs what is missing: Debian's jupyter packages (apt-get, needs root), tslab into ./.tslab (npm, local
# prefix, not a repo dependency), the tslab kernel spec (user level), and builds the @rec packages it imports.
# Environment: REC_DATA_DIR (default ../shared/data beside the repo), TSLAB_PREFIX, JUPYTER_PYTHON.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
PREFIX="${TSLAB_PREFIX:-$HERE/.tslab}"
TSLAB_VERSION=1.0.22
# Debian's jupyter lives in the system python, whatever python3 is first on PATH (pyenv, venv).
PY="${JUPYTER_PYTHON:-/usr/bin/python3}"
NOTEBOOKS=("$@")
[ ${#NOTEBOOKS[@]} -eq 0 ] && NOTEBOOKS=(evaluate.ipynb)

node -e 'const [a,b]=process.versions.node.split(".").map(Number); if (a<20||(a===20&&b<19)) { console.error(`Node ${process.versions.node}: tslab cells are require() calls and @rec packages are ESM; require(esm) needs Node >= 20.19`); process.exit(1) }'

if ! "$PY" -c 'import nbconvert, notebook, jupyter_client, ipykernel' 2>/dev/null; then
  echo "[run.sh] installing Debian jupyter packages"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    jupyter-nbconvert python3-notebook jupyter-client python3-ipykernel
fi

if [ ! -x "$PREFIX/node_modules/.bin/tslab" ]; then
  echo "[run.sh] installing tslab@$TSLAB_VERSION into $PREFIX"
  npm install --prefix "$PREFIX" --no-save --no-audit --no-fund "tslab@$TSLAB_VERSION"
fi
# zeromq ships prebuilt addons; fail early with a clear message if this platform has none.
node -e "require('$PREFIX/node_modules/zeromq')" || { echo "[run.sh] zeromq (tslab's transport) has no working addon here"; exit 1; }

"$PREFIX/node_modules/.bin/tslab" install --python="$PY" >/dev/null
kernels="$("$PY" -m jupyter kernelspec list 2>/dev/null)"
grep -Eq '^\s*tslab\s' <<<"$kernels" || { echo "[run.sh] tslab kernel spec not registered: $kernels"; exit 1; }

if [ "${REC_SKIP_BUILD:-0}" != "1" ]; then
  echo "[run.sh] building @rec packages (REC_SKIP_BUILD=1 skips)"
  log="$(mktemp)"
  (cd "$ROOT" && pnpm --filter @rec/core --filter @rec/data --filter @rec/env --filter @rec/eval build >"$log" 2>&1) \
    || { tail -40 "$log"; echo "[run.sh] build failed"; exit 1; }
  rm -f "$log"
fi

export REC_DATA_DIR="$(cd "$ROOT" && realpath -m "${REC_DATA_DIR:-../shared/data}")"
# The kernel runs `tslab kernel`; make sure the local prefix is on PATH for it.
export PATH="$PREFIX/node_modules/.bin:$PATH"
mkdir -p "$HERE/out"
cd "$HERE"
for nb in "${NOTEBOOKS[@]}"; do
  name="$(basename "${nb%.ipynb}")"
  echo "[run.sh] executing $nb"
  "$PY" -m jupyter nbconvert --to notebook --execute "$nb" \
    --ExecutePreprocessor.kernel_name=tslab --ExecutePreprocessor.timeout=900 \
    --output-dir out --output "$name.executed.ipynb"
  # nbconvert stops with an error on a failing cell; double-check that no output is an error.
  "$PY" - "out/$name.executed.ipynb" <<'PYEOF'
import json, sys
nb = json.load(open(sys.argv[1]))
errors = [o for c in nb["cells"] if c["cell_type"] == "code" for o in c.get("outputs", []) if o.get("output_type") == "error"]
# tslab leaves execution_count empty, so "did it run" is judged by outputs: every code cell here prints something.
silent = [i for i, c in enumerate(nb["cells"]) if c["cell_type"] == "code" and not c.get("outputs")]
if errors or silent:
    print(f"[run.sh] {sys.argv[1]}: {len(errors)} error outputs; code cells without output: {silent}")
    sys.exit(1)
print(f"[run.sh] {sys.argv[1]}: all cells ran without errors")
PYEOF
done
