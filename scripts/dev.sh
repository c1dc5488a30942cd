#!/usr/bin/env bash
# One entry point for a fresh clone: creates or refreshes .venv, then launches the app or runs the tests.
#   bash scripts/dev.sh app [app args...]     set up (runtime deps) and launch CrossGLG Live
#   bash scripts/dev.sh test [pytest args...] set up (runtime + train + dev + tensorrt extras), check the
#                                             house rules (ruff, import contracts, mypy) and run the tests
# Idempotent: the install step is skipped while pyproject.toml and the chosen extras are unchanged.
# Torch: TORCH_SPEC (default torch==2.13.0) and TORCH_INDEX_URL (optional) choose the build, e.g.
#   TORCH_INDEX_URL=https://download.pytorch.org/whl/cu128 TORCH_SPEC=torch==2.13.0 bash scripts/dev.sh app
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-}"; shift || true
case "$mode" in
  app) extras="" ;;
  test) extras="[dev,tensorrt]" ;;
  *) echo "usage: bash scripts/dev.sh app|test [args...]" >&2; exit 2 ;;
esac

pick_python() {
  for py in "${PYTHON:-}" python3.13 python3.12 python3.11 python3; do
    [ -n "$py" ] || continue
    if command -v "$py" >/dev/null 2>&1 && "$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
      echo "$py"; return 0
    fi
  done
  echo "CrossGLG Live needs Python >= 3.11 (set PYTHON=/path/to/python3.11)" >&2; return 1
}

if [ ! -x .venv/bin/python ]; then
  "$(pick_python)" -m venv .venv
  .venv/bin/python -m pip install -q --upgrade pip
fi
py=.venv/bin/python
torch_spec="${TORCH_SPEC:-torch==2.13.0}"
stamp=".venv/.crossglg-$mode-stamp"
want="$(cat pyproject.toml | sha256sum | cut -c1-16) $extras $torch_spec ${TORCH_INDEX_URL:-}"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  if ! $py -c 'import torch' 2>/dev/null || [ -n "${TORCH_SPEC:-}" ]; then
    $py -m pip install -q ${TORCH_INDEX_URL:+--index-url "$TORCH_INDEX_URL"} "$torch_spec"
  fi
  $py -m pip install -q -e ".$extras"
  echo "$want" > "$stamp"
fi

if [ "$mode" = app ]; then
  exec .venv/bin/crossglg-live "$@"
fi
export QT_QPA_PLATFORM="${QT_QPA_PLATFORM:-offscreen}"
# House rules first (docs/architecture.md): lint, format, import contracts, types; then the tests.
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/lint-imports
.venv/bin/mypy
exec $py -m pytest -q "$@"
