#!/usr/bin/env bash
# Installs champion into .venv and runs the end-to-end demo on the example experiment:
# plan, shadow, A/B with ramps, outcomes, read-out and the decision (reports in ./demo/).
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e .

rm -rf demo
.venv/bin/champion demo --dir demo
