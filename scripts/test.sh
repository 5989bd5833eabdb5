#!/usr/bin/env bash
# Installs champion with its test tools into .venv, lints, and runs the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the tests use, installed when missing (as root; otherwise those tests are
# skipped). apt's index is fetched once, and only if something is missing.
UPDATED=""
need() {  # need "CHECK" PACKAGE "WHAT SKIPS WITHOUT IT"
  if eval "$1" >/dev/null 2>&1; then
    return
  fi
  if [ "$(id -u)" != 0 ]; then
    echo "note: $2 is not installed and this is not root: $3 will be skipped" >&2
    return
  fi
  export DEBIAN_FRONTEND=noninteractive
  if [ -z "$UPDATED" ]; then
    apt-get update -qq
    UPDATED=1
  fi
  apt-get install -y -qq "$2" >/dev/null
}
# PostgreSQL server binaries for the registry/analysis tests (~1 minute).
need 'ls /usr/lib/postgresql/*/bin/initdb' postgresql "the PostgreSQL tests"
# Java for the PySpark local-mode analysis test (OpenJDK 17; ~1 minute).
need 'command -v java' default-jre-headless "the Spark test"
# Chromium for the dashboard's browser tests (tests/ui, driven by Playwright).
need 'test -x /usr/bin/chromium' chromium "the dashboard tests"

python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[dev]'

.venv/bin/ruff check .
.venv/bin/python -m mypy
# pytest exits 5 when it collects nothing: with `set -e` that fails the run, as it should.
PATH="$PWD/.venv/bin:$PATH" .venv/bin/python -m pytest -n 2 "$@"
