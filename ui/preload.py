"""PyTorch and the pages' modules imported in the server process while the server starts.

Imported in the first session's first run instead, they would add their import time (~2.5 s here,
PyTorch ~1.6 s of it) to the first visitor's wait; imported before the server starts, they add it to
the start. In a thread beside the server's own start and the browser's loading of the page, they
cost neither in full. The app's script waits for them before importing any page, so no module is
ever imported by two threads at once.
"""

from __future__ import annotations

import importlib
import pkgutil
import threading

_done = threading.Event()
_started = threading.Event()


def _import() -> None:
    try:
        import pandas  # noqa: F401 - Streamlit imports it at a page's first component (its data check): ~1 s here
        import torch  # noqa: F401

        from ui import bundles, figures  # noqa: F401
        from ui.navigation import PAGES

        for page in PAGES:  # every part of every page; the page scripts themselves are Streamlit's to run
            for part in pkgutil.iter_modules([str(page.script.parent)]):
                if part.name != "page":
                    importlib.import_module(f"{page.package}.{part.name}")
    finally:
        _done.set()  # a failed import fails again, with its message, where the app imports it


def start() -> None:
    """Start the imports in a background thread (ui/serve.py, before the server starts)."""
    _started.set()
    threading.Thread(target=_import, name="vae-lab-preload", daemon=True).start()


def wait() -> None:
    """Until the imports `start` began are done; at once where none were started (`streamlit run`)."""
    if _started.is_set():
        _done.wait()
