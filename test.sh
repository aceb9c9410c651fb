#!/usr/bin/env bash
# Set up everything the tests need (venv, Chromium, Fashion-MNIST) and run lint and the suite.
set -euo pipefail
cd "$(dirname "$0")"
scripts/system-packages.sh
scripts/setup.sh dev
.venv/bin/ruff check .
# Three workers: the two browser groups first, one in each of two workers (collection order: they come
# first), every other file in any (groups: tests/conftest.py).
.venv/bin/python -m pytest -q -n 3 --dist loadgroup --no-loadscope-reorder "$@"
