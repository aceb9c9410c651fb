"""The library's commands that run in child processes, named once: `python -m <module>` from the package root.

Training jobs and imports started from the app run the command line (`vae-lab train`, `vae-lab import`),
`vae-lab serve` becomes the app's server, a training run starts the UMAP worker, an import runs the
uploaded model first in a child: all through `python_module`, with the same interpreter, from the
folder where `python -m vae...` resolves (a checkout's root, or site-packages for an installed package).
"""

from __future__ import annotations

import sys
from pathlib import Path

PACKAGE_ROOT = Path(__file__).resolve().parent.parent
CLI = "vae.cli"
PROJECTION_WORKER = "vae.latent.projection_worker"
FIRST_RUN = "vae.portable.first_run"
APP_SERVER = "ui.serve"  # `vae-lab serve` becomes this process (the app, not the library: it imports Streamlit)


def python_module(module: str, *args: str) -> list[str]:
    """The command line that runs `module` with this interpreter."""
    return [sys.executable, "-m", module, *args]
