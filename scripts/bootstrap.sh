#!/usr/bin/env bash
# Create .venv (if missing) and install llmspell into it with the given extras (default: jupyter).
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-jupyter}"
python="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
  .venv/bin/python -m pip install --quiet --upgrade pip
fi
.venv/bin/python -m pip install --quiet -e ".[${extras}]"
# The kernelspecs go into the venv, so `jupyter ... --kernel llmspell` from it finds them.
.venv/bin/llmspell kernel install --sys-prefix >/dev/null
