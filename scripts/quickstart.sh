#!/usr/bin/env bash
# The main job: set up the venv, install the kernel, execute the quick-start notebook headless
# on the default storage (SQLite in the user data dir) and say where the executed copy is.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh jupyter
out=notebooks/_executed
mkdir -p "$out"
.venv/bin/jupyter nbconvert --to notebook --execute \
  --ExecutePreprocessor.kernel_name=llmspell --ExecutePreprocessor.timeout=120 \
  --output-dir "$out" notebooks/01-quickstart.ipynb
echo "executed notebook: $(pwd)/$out/01-quickstart.ipynb"
