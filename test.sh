#!/usr/bin/env bash
# Set up everything the tests need (venv, Chromium, Fashion-MNIST) and run lint and the suite.
set -euo pipefail
cd "$(dirname "$0")"
scripts/system-packages.sh
scripts/setup.sh dev
.venv/bin/ruff check .
.venv/bin/python -m pytest -q "$@"
