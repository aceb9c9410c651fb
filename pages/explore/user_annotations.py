"""The user's annotations of the open bundle (named selections, tags, metadata), read once per version of
their file: every part of the page that filters or colours by them asks here."""

from __future__ import annotations

import streamlit as st

from vae.bundle import Bundle
from vae.diagnostics import annotations as store
from vae.diagnostics.annotations import Annotations


@st.cache_resource(show_spinner=False, max_entries=32)
def _load(path: str, n: int, stamp: tuple) -> tuple[Annotations, str | None]:
    return store.load(path, n)


def _stamp(bundle: Bundle) -> tuple:
    """The store file's identity: a write (by any tab or server) makes a new one."""
    try:
        info = store.store_file(bundle.path).stat()
        return info.st_mtime_ns, info.st_size, info.st_ino
    except OSError:
        return ()


def loaded(bundle: Bundle) -> tuple[Annotations, str | None]:
    """The bundle's annotations and, when its file could not be used, why."""
    return _load(str(bundle.path), len(bundle.mu), _stamp(bundle))


def annotations(bundle: Bundle) -> Annotations:
    return loaded(bundle)[0]
