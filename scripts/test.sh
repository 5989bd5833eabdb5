#!/usr/bin/env bash
# Installs champion with its test tools into .venv, lints, and runs the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[dev]'

.venv/bin/ruff check src tests bench
# pytest exits 5 when it collects nothing: with `set -e` that fails the run, as it should.
PATH="$PWD/.venv/bin:$PATH" .venv/bin/python -m pytest -n 2 "$@"
