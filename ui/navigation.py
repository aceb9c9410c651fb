"""The app's pages, named once: their folders under pages/, titles, icons and URLs, and moving between them.

The app's entry script (app.py, ui/app.py) declares them, the server imports their modules while it
starts (ui/preload.py), and the tests walk them: all from this list.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import streamlit as st

from ui import state

# pages/ sits beside ui/ in a checkout and in site-packages alike (pyproject.toml installs both).
PAGES_DIR = Path(__file__).resolve().parent.parent / "pages"


@dataclass(frozen=True)
class PageInfo:
    """One page: pages/<folder>/page.py, its title and icon in the navigation, and its URL path."""

    folder: str
    title: str
    icon: str
    url_path: str

    @property
    def script(self) -> Path:
        return PAGES_DIR / self.folder / "page.py"

    @property
    def package(self) -> str:
        return f"pages.{self.folder}"


# The first page is the default one. The URL paths are the pages' addresses since the first release.
PAGES = [
    PageInfo("explore", "Explore", ":material/map:", "explore"),
    PageInfo("interpolate", "Interpolate", ":material/timeline:", "interpolate"),
    PageInfo("generate", "Generate", ":material/auto_awesome:", "generate"),
    PageInfo("latent_plane", "Latent plane", ":material/grid_on:", "latent_plane"),
    PageInfo("your_image", "Your image", ":material/upload:", "own_image"),
    PageInfo("model_card", "Model card", ":material/badge:", "model"),
    PageInfo("compare", "Compare", ":material/compare:", "compare"),
    PageInfo("train", "Train", ":material/model_training:", "train"),
    PageInfo("open_model", "Open a model", ":material/file_open:", "open_model"),
]
EXPLORE = PAGES[0]


def page(folder: str) -> PageInfo:
    """The page whose folder is pages/<folder>."""
    return next(p for p in PAGES if p.folder == folder)


def declared() -> list[st.Page]:
    """The pages as `st.navigation` takes them."""
    return [st.Page(p.script, title=p.title, icon=p.icon, url_path=p.url_path, default=p is EXPLORE) for p in PAGES]


def open_in_explorer(bundle_name: str, code: np.ndarray | None = None, source: str | None = None) -> None:
    """Switch to the Explore page on `bundle_name`, with `code` (when given) in its sliders."""
    if code is not None:
        state.set_code(code, source)
    st.switch_page(EXPLORE.script, query_params={"bundle": bundle_name})
