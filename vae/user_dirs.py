"""The user's own folders, where VAE Lab writes when no option names another (the XDG base directories).

Data (bundles trained in the app, named selections and tags) is the user's to keep; the cache (values
computed from a bundle) may be deleted at any time.
"""

from __future__ import annotations

import os
from pathlib import Path


def data_home() -> Path:
    """$XDG_DATA_HOME/vae-lab, else ~/.local/share/vae-lab."""
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "vae-lab"


def cache_home() -> Path:
    """$XDG_CACHE_HOME/vae-lab, else ~/.cache/vae-lab."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "vae-lab"
