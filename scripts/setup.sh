#!/usr/bin/env bash
# Create .venv and install VAE Lab into it (editable, so the checkout is what runs), then the
# browser's onnxruntime-web (scripts/web-assets.sh); each re-installs only when its pins change.
# Usage: scripts/setup.sh [dev]
set -euo pipefail
cd "$(dirname "$0")/.."
extras=""
[ "${1:-}" = dev ] && extras="[dev]"
python=${PYTHON:-$(command -v python3.11 || command -v python3)}
[ -x .venv/bin/python ] || "$python" -m venv .venv
stamp=.venv/.installed-$(cat pyproject.toml requirements.txt | sha256sum | cut -c1-16)-${1:-run}
# PyTorch's CPU build where there is no NVIDIA GPU and its index answers (about 3 GB less than the
# CUDA libraries the default build brings); `import torch` must then report no CUDA, else the full set.
cpu_torch() {
  [ -e /proc/driver/nvidia/version ] || command -v nvidia-smi >/dev/null && return 1
  .venv/bin/python -m pip install --isolated -q --no-deps --timeout 15 --retries 0 \
    --index-url https://download.pytorch.org/whl/cpu $(grep -E '^torch(vision)?==' requirements.txt) 2>/dev/null &&
    .venv/bin/python -c 'import sys, torch; sys.exit(torch.version.cuda is not None)' 2>/dev/null
}
if [ ! -f "$stamp" ]; then
  .venv/bin/python -m pip install -q --upgrade pip
  # The pinned set (requirements.txt, made by scripts/requirements.py), torch's builds on this machine's disk among
  # them; requirements-cpu.txt, without torch's CUDA libraries, once the CPU build is in.
  pins=requirements.txt
  if cpu_torch; then pins=requirements-cpu.txt; else echo "PyTorch: the default build (CUDA libraries included)"; fi
  .venv/bin/python -m pip install -q -r "$pins"
  .venv/bin/python -m pip install -q -e ".$extras"
  touch "$stamp"
fi
# umap-learn's kernels, compiled once into numba's disk cache: a training job's UMAP map then
# takes seconds, not a minute of compiling (again after each install; a job compiles them itself
# if this is skipped or the cache is removed).
primed=.venv/.umap-kernels-cached
if [ ! -f "$primed" ] || [ "$stamp" -nt "$primed" ]; then
  if .venv/bin/python -m vae.latent.projection_worker --prime; then
    touch "$primed"
  else
    echo "warning: could not prime numba's cache; the first UMAP map will compile its kernels" >&2
  fi
fi
scripts/web-assets.sh
