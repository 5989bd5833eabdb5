#!/usr/bin/env bash
# Installs champion with its test tools into .venv, lints, and runs the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."

# PostgreSQL server binaries for the registry/analysis tests (Debian's package; ~1 minute).
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq postgresql >/dev/null
  else
    echo "note: PostgreSQL is not installed and this is not root: its tests will be skipped" >&2
  fi
fi

# Java for the PySpark local-mode analysis test (Debian's OpenJDK 17; ~1 minute).
if ! command -v java >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq default-jre-headless >/dev/null
  else
    echo "note: Java is not installed and this is not root: the Spark test will be skipped" >&2
  fi
fi

# Chromium for the dashboard's browser tests (tests/ui; Debian's package, driven by Playwright).
if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq chromium >/dev/null
  else
    echo "note: Chromium is not installed and this is not root: the dashboard tests will be skipped" >&2
  fi
fi

python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[dev]'

.venv/bin/ruff check .
.venv/bin/python -m mypy
# pytest exits 5 when it collects nothing: with `set -e` that fails the run, as it should.
PATH="$PWD/.venv/bin:$PATH" .venv/bin/python -m pytest -n 2 "$@"
