#!/usr/bin/env bash
# What a person sees in JupyterLab: runs tests/browser/lab_check.py (Lab on a free local port,
# headless Chromium, one notebook on "llmspell (Lua)"). Installs what is missing first:
# JupyterLab and Playwright from PyPI into .venv, Chromium from Debian (apt-get, as root) — never
# Playwright's own browser download. Screenshots: .ci/artifacts/browser/. Extra arguments go to
# the driver (-k NAME runs the cases whose name contains NAME).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh test
if ! .venv/bin/python -c "import jupyterlab, playwright" 2>/dev/null; then
  .venv/bin/python -m pip install --quiet jupyterlab playwright
fi
chromium="${CHROMIUM:-/usr/bin/chromium}"
if [ ! -x "$chromium" ] && [ -z "${CHROMIUM:-}" ] && [ "$(id -u)" -eq 0 ] \
    && command -v apt-get >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
fi
if [ ! -x "$chromium" ]; then
  echo "browser_test: no Chromium at $chromium: run apt-get install chromium as root," \
    "or set CHROMIUM to a Chromium binary" >&2
  exit 2
fi
exec .venv/bin/python tests/browser/lab_check.py --chromium "$chromium" "$@"
