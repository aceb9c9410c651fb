#!/usr/bin/env bash
# Set up (first time only) and start VAE Lab on the shipped models: http://localhost:8501
set -euo pipefail
cd "$(dirname "$0")"
scripts/setup.sh
exec .venv/bin/python -m ui.serve --server.headless true --browser.gatherUsageStats false "$@"
