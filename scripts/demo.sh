#!/usr/bin/env bash
# Installs champion into .venv and plans the example experiment (examples/fraud-detector.yaml).
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e .

.venv/bin/champion plan --spec examples/fraud-detector.yaml --daily-units 20000
