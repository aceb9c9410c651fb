"""Start VAE Lab with its heavy libraries imported before the first visitor arrives.

    vae-lab serve [--checkpoints DIR] [streamlit options]    (runs this module)
    python -m ui.serve [streamlit options] [-- --checkpoints DIR]

`streamlit run ui/app.py` works too, but Streamlit imports a page's modules during the first
session's first run: PyTorch alone takes ~1.6 s here, so the first visitor waited ~2.5 s longer
than later ones. Importing them here, in the server process, moves that wait to start-up.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch  # noqa: F401  (imported for its start-up cost; the pages use it through vae)
from streamlit.web import cli

from ui import bundles, explorer, figures, generate, interpolate, model_card, own_image, training  # noqa: F401

APP = Path(__file__).resolve().parent / "app.py"


def main() -> None:
    sys.argv = ["streamlit", "run", str(APP), *sys.argv[1:]]
    sys.exit(cli.main(prog_name="streamlit"))


if __name__ == "__main__":
    main()
