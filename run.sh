#!/usr/bin/env bash
# Set up (first time only) and start VAE Lab on the shipped models: http://localhost:8501
# Options go to `vae-lab serve`: --checkpoints DIR (repeatable), Streamlit's --server.port N, ...
set -euo pipefail
cd "$(dirname "$0")"
scripts/setup.sh
exec .venv/bin/vae-lab serve "$@"
