"""Bundle discovery and loading for the pages: cached once per server, shared by all sessions."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np
import streamlit as st
import torch
from plotly.colors import qualitative

from ui import state
from vae.bundle import Bundle, load_bundle
from vae.catalog import BundleEntry, checkpoint_dirs, fingerprint, scan
from vae.latent_tools import ForwardProjector, InverseProjector

# The app runs many tiny forward passes (one image, a few codes) for many sessions at once: one
# intra-op thread each beats a thread pool whose spin-waits fight the browser and other sessions
# for the cores (the Your image page's 30-step completion took 0.6-0.9 s with the default, 0.07 s
# with one, in the server while Chromium rendered).
torch.set_num_threads(1)

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_BUNDLE = "fashion-mnist-conv-z16"


def extra_dirs_from_argv(argv: list[str] | None = None) -> list[str]:
    """`streamlit run app.py -- --checkpoints DIR [--checkpoints DIR2]`."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--checkpoints", action="append", default=[])
    known, _ = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
    return known.checkpoints


TRAIN_DIR_VAR = "VAE_LAB_TRAIN_DIR"


def train_dir() -> Path:
    """Where the Train page creates new bundles: checkpoints/, or $VAE_LAB_TRAIN_DIR."""
    return Path(os.environ.get(TRAIN_DIR_VAR) or ROOT / "checkpoints")


def search_dirs() -> list[Path]:
    return checkpoint_dirs([*extra_dirs_from_argv(), train_dir()], default=ROOT / "checkpoints")


@st.cache_data(show_spinner=False, max_entries=8)
def _scan_cached(dirs: tuple[str, ...], stamp: tuple) -> list[BundleEntry]:
    return scan([Path(d) for d in dirs])


def list_bundles() -> list[BundleEntry]:
    """All bundles with their validity; rescanned only when a file under the folders changes."""
    dirs = search_dirs()
    return _scan_cached(tuple(str(d) for d in dirs), fingerprint(dirs))


@st.cache_resource(show_spinner="Loading model…", max_entries=8)
def _load_cached(path: str, stamp: tuple) -> Bundle:
    return load_bundle(path)


def get_bundle(path: Path) -> Bundle:
    """The loaded bundle, once per server process (keyed by path and file times)."""
    return _load_cached(str(path), fingerprint_of(path))


def fingerprint_of(path: Path) -> tuple:
    return tuple((f.name, f.stat().st_mtime_ns) for f in sorted(path.iterdir()) if f.is_file())


@st.cache_resource(show_spinner=False, max_entries=16)
def inverse_projector(path: str, projection: str, stamp: tuple) -> InverseProjector:
    bundle = get_bundle(Path(path))
    return InverseProjector(bundle.projections[projection]["xy"], bundle.mu)


@st.cache_resource(show_spinner=False, max_entries=16)
def forward_projector(path: str, projection: str, stamp: tuple) -> ForwardProjector:
    bundle = get_bundle(Path(path))
    arrays = bundle.projections[projection]
    return ForwardProjector(bundle.mu, arrays["xy"], arrays.get("components"), arrays.get("mean"))


def select_bundle() -> Bundle | None:
    """Sidebar selector over valid bundles (invalid ones listed, greyed, with the reason)."""
    entries = list_bundles()
    valid = [e for e in entries if e.valid]
    invalid = [e for e in entries if not e.valid]
    with st.sidebar:
        if not valid:
            st.error("No valid model bundle found in: " + ", ".join(str(d) for d in search_dirs()))
            _show_invalid(invalid)
            return None
        names = [e.path.name for e in valid]
        wanted = st.query_params.get("bundle") or st.session_state.get("bundle") or DEFAULT_BUNDLE
        if wanted not in names:
            if "bundle" in st.query_params and not st.session_state.get("bundle"):
                st.warning(f"Model {st.query_params['bundle']!r} from the link is not available.")
            wanted = DEFAULT_BUNDLE if DEFAULT_BUNDLE in names else names[0]
        if st.session_state.get("bundle_choice") not in names:
            st.session_state["bundle_choice"] = wanted
        labels = {e.path.name: f"{e.path.name} ({e.title})" for e in valid}
        choice = st.selectbox("Model", names, key="bundle_choice", format_func=labels.get)
        _show_invalid(invalid)
    if st.session_state.get("bundle") != choice:
        st.session_state["bundle"] = choice
        for key in [k for k in st.session_state if k in state.BUNDLE_KEYS]:
            del st.session_state[key]
    return get_bundle(next(e.path for e in valid if e.path.name == choice))


def _show_invalid(invalid: list[BundleEntry]) -> None:
    if not invalid:
        return
    with st.expander(f"{len(invalid)} invalid bundle(s)"):
        for entry in invalid:
            st.markdown(f":grey[**{entry.label}**]")
            for problem in entry.problems[:5]:
                st.caption(problem)


def class_colours(n: int) -> list[str]:
    """A qualitative palette (Plotly's D3 + Set3 ones) long enough for n classes."""
    palette = qualitative.D3 + qualitative.Set3
    return [palette[i % len(palette)] for i in range(n)]


def labels_text(bundle: Bundle) -> np.ndarray:
    names = np.array(bundle.class_names, dtype=object)
    return names[bundle.labels]
