#!/usr/bin/env bash
# Set up everything the tests need (venv, Chromium, Fashion-MNIST) and run lint and the suite.
set -euo pipefail
cd "$(dirname "$0")"
scripts/system-packages.sh
scripts/setup.sh dev
.venv/bin/ruff check .
# Two workers: the browser tests in one, every other file in either (groups: tests/conftest.py).
.venv/bin/python -m pytest -q -n 2 --dist loadgroup "$@"
