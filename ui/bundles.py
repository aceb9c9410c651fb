"""Bundle discovery and loading for the pages: cached once per server, shared by all sessions.

The sidebar lists bundles from their config.json alone (cheap); the chosen one is verified and
loaded once, and a bundle that fails to load is listed with the invalid ones from then on.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np
import streamlit as st
import torch

from ui import state
from ui.text import md
from vae.bundle import Bundle, BundleError, load_bundle
from vae.bundle.catalog import BundleEntry, candidate_dirs, checkpoint_dirs, fingerprint, scan
from vae.cli import serve
from vae.job_engine import JobEngine, choose
from vae.latent import tsne
from vae.latent.placement import ForwardProjector, InverseProjector
from vae.user_dirs import data_home

# The app runs many tiny forward passes (one image, a few codes) for many sessions at once: one
# intra-op thread each beats a thread pool whose spin-waits fight the browser and other sessions
# for the cores (the Your image page's 30-step completion took 0.6-0.9 s with the default, 0.07 s
# with one, in the server while Chromium rendered).
torch.set_num_threads(1)

# A source checkout (or an editable install) has its shipped bundles beside the package; an installed
# package lists ./checkpoints of the folder it is started from.
ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DIR = ROOT / "checkpoints" if (ROOT / "checkpoints").is_dir() else Path("checkpoints")
DEFAULT_BUNDLE = "fashion-mnist-conv-z16"


TRAIN_DIR_VAR = "VAE_LAB_TRAIN_DIR"


def _app_args(argv: list[str] | None = None) -> argparse.Namespace:
    """`vae-lab serve --checkpoints DIR [--checkpoints DIR2] [--train-dir DIR]` (the app sees them after `--`)."""
    parser = argparse.ArgumentParser(add_help=False)
    serve.add_arguments(parser)  # defined once, with `vae-lab serve`'s own
    known, _ = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
    return known


def extra_dirs_from_argv(argv: list[str] | None = None) -> list[str]:
    return _app_args(argv).checkpoints


def train_dir(argv: list[str] | None = None) -> Path:
    """Where the Train page creates bundles: --train-dir, $VAE_LAB_TRAIN_DIR, else the user's data
    folder ($XDG_DATA_HOME/vae-lab/checkpoints). Never the shipped checkpoints/ (see `train_dir_problem`)."""
    chosen = _app_args(argv).train_dir or os.environ.get(TRAIN_DIR_VAR)
    if chosen:
        return Path(chosen).expanduser()
    return data_home() / "checkpoints"


def job_engine(argv: list[str] | None = None) -> JobEngine:
    """Where the Train page's jobs run: `--jobs`/`--ray-address`, else $VAE_LAB_RAY_ADDRESS, else locally."""
    args = _app_args(argv)
    return choose(args.jobs, args.ray_address)


def train_dir_problem(folder: Path) -> str | None:
    """Why the app must not write into `folder`: the shipped bundles are read-only to it."""
    shipped = DEFAULT_DIR.resolve()
    if folder.resolve() == shipped or shipped in folder.resolve().parents:
        return (f"the training folder {folder} is inside the shipped checkpoints/ folder, which the app never "
                f"writes: set {TRAIN_DIR_VAR} or --train-dir to another folder")
    return None


def search_dirs() -> list[Path]:
    return checkpoint_dirs([*extra_dirs_from_argv(), train_dir()], default=DEFAULT_DIR)


@st.cache_data(show_spinner=False, max_entries=8)
def _scan_cached(dirs: tuple[str, ...], stamp: tuple) -> list[BundleEntry]:
    return scan([Path(d) for d in dirs])


def list_bundles() -> list[BundleEntry]:
    """All bundles, listed from their config.json; rescanned only when a file under the folders changes."""
    dirs = search_dirs()
    stamps = tuple((str(p), fingerprint(p)) for root in dirs for p in candidate_dirs(root))
    return _scan_cached(tuple(str(d) for d in dirs), stamps)


@st.cache_resource(show_spinner="Loading model…", max_entries=8)
def _open(path: str, stamp: tuple) -> Bundle | BundleError:
    """The verified bundle, or why it cannot be used (kept, so a broken bundle is checked once)."""
    try:
        bundle = load_bundle(path)
    except BundleError as exc:
        return exc
    except Exception as exc:  # a check that failed in a way no check foresaw: listed as invalid all the same
        return BundleError.unexpected(path, exc)
    return tsne.with_cached_map(bundle)  # a map computed on request lives in the user cache, not in the bundle


def open_bundle(path: Path) -> Bundle | BundleError:
    """The loaded bundle or its error, once per server process (keyed by path and file times)."""
    return _open(str(path), fingerprint(path))


def get_bundle(path: Path) -> Bundle:
    """The loaded bundle of a path that opened before (the pages' caches below); BundleError otherwise."""
    opened = open_bundle(path)
    if isinstance(opened, BundleError):
        raise opened
    return opened


def stamp(bundle: Bundle) -> tuple:
    """The cache key part that changes when the bundle's files do."""
    return fingerprint(bundle.path)


@st.cache_resource(show_spinner=False, max_entries=16)
def inverse_projector(path: str, projection: str, stamp: tuple) -> InverseProjector:
    bundle = get_bundle(Path(path))
    return InverseProjector(bundle.projections[projection]["xy"], bundle.mu)


@st.cache_resource(show_spinner=False, max_entries=16)
def forward_projector(path: str, projection: str, stamp: tuple) -> ForwardProjector:
    """Places codes on the map; one that a map position decoded to (kept to CODE_DECIMALS) goes back there."""
    bundle = get_bundle(Path(path))
    arrays = bundle.projections[projection]
    surface = None
    if arrays.get("components") is None and bundle.latent_dim > 2:
        surface = inverse_projector(path, projection, stamp).surface()
    # Rounding moves each coordinate by at most half a unit of the last decimal kept: allow twice that.
    tolerance = 10.0 ** -state.CODE_DECIMALS * np.sqrt(bundle.latent_dim)
    return ForwardProjector(bundle.mu, arrays["xy"], arrays.get("components"), arrays.get("mean"),
                            surface=surface, tolerance=tolerance)


def select_bundle() -> Bundle | None:
    """Sidebar selector over the listed bundles; invalid ones are listed, greyed, with the reason."""
    entries = list_bundles()
    valid = [e for e in entries if e.valid]
    invalid = [e for e in entries if not e.valid]
    with st.sidebar:
        if not valid:
            st.error("No valid model bundle found in: " + ", ".join(md(d) for d in search_dirs()))
            _show_invalid(invalid)
            return None
        names = [e.path.name for e in valid]
        wanted = st.query_params.get("bundle") or st.session_state.get("bundle") or DEFAULT_BUNDLE
        if wanted not in names:
            if "bundle" in st.query_params and not st.session_state.get("bundle"):
                st.warning(f"Model “{md(st.query_params['bundle'])}” from the link is not available.")
            wanted = DEFAULT_BUNDLE if DEFAULT_BUNDLE in names else names[0]
        linked = st.query_params.get("bundle")
        if st.session_state.get("bundle_choice") not in names or (
                linked == wanted and linked != st.session_state.get("bundle")):  # a link to another model
            st.session_state["bundle_choice"] = wanted
        titles = {e.path.name: e.title for e in valid}
        # The name alone fits the sidebar; what the model is goes on the line below.
        choice = st.selectbox("Model", names, key="bundle_choice")
        st.caption(md(titles[choice]))
        chosen = next(e for e in valid if e.path.name == choice)
        opened = open_bundle(chosen.path)
        if isinstance(opened, BundleError):
            st.error(f"Cannot open {md(choice)}: it failed its checks (listed below). Choose another model.")
            invalid.append(BundleEntry(chosen.path, False, tuple(opened.problems)))
        _show_invalid(invalid)
    if st.session_state.get("bundle") != choice:
        st.session_state["bundle"] = choice
        for key in [k for k in st.session_state if k in state.BUNDLE_KEYS]:
            del st.session_state[key]
    return None if isinstance(opened, BundleError) else opened


def _show_invalid(invalid: list[BundleEntry]) -> None:
    if not invalid:
        return
    with st.expander(f"{len(invalid)} invalid bundle(s)"):
        for entry in invalid:
            st.markdown(f":grey[**{md(entry.label)}**]")
            for problem in entry.problems[:5]:
                st.caption(md(problem))
