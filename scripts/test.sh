#!/usr/bin/env bash
# The whole test suite (unit, contract per backend incl. an embedded PostgreSQL, kernel
# conformance, notebooks, acceptance scripts). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh test
exec .venv/bin/python -m pytest "$@"
