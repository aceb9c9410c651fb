"""Open a model's check step: what the import found by running the uploaded model, changeable before it runs.

"Check the model" runs `vae-lab import ... --detect-only` in its own process, or as a Ray job
(vae/portable/import_job.py), on the chosen images and shows each convention found (input range and layout,
posterior form, decoder output, likelihood, latent shape) with how it was found. Each can be changed; Import
then passes the changed ones as flags, so the import itself checks them against the same evidence.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import streamlit as st

from ui.text import md
from vae.job_engine import JobEngine
from vae.portable.import_job import CheckFailed, detect_conventions
from vae.portable.spec import ImportSpec
from vae.training.jobs import JobRefused

RESULT_KEY = "open_check"
AS_FOUND = "as found"
ROUTE_CHOICES = {"onnx": ("input_range", "input_layout", "posterior", "decoder_output", "likelihood"),
                 "pythae": ("likelihood",)}  # what each route's command line lets the user name
LABELS = {"input_range": "input range", "input_layout": "input layout", "posterior": "posterior's spread",
          "decoder_output": "decoder output", "likelihood": "likelihood", "latent_shape": "latent shape",
          "gaussian_sigma": "Gaussian σ"}


def fingerprint() -> tuple:
    """What the check was run on: the route, the uploads and the images chosen (a change makes it stale)."""
    files = tuple((key, getattr(st.session_state.get(key), "file_id", None))
                  for key in ("open_encoder", "open_decoder", "open_spec", "open_zip", "open_images"))
    return st.session_state.get("open_route"), st.session_state.get("open_data"), files


def run(route_args: Callable[[Path], list[str]], workspace: Path, engine: JobEngine) -> None:
    """Save the uploads in `workspace`, run the check there (on the chosen engine), keep its result; the
    workspace is removed."""
    try:
        result = {"found": detect_conventions(route_args(workspace), workspace, engine)}
    except (CheckFailed, JobRefused, ValueError) as exc:
        result = {"error": str(exc)}
    finally:
        shutil.rmtree(workspace, ignore_errors=True)
    st.session_state[RESULT_KEY] = {**result, "fingerprint": fingerprint()}


def _current() -> dict | None:
    result = st.session_state.get(RESULT_KEY)
    return result if result and result.get("fingerprint") == fingerprint() else None


def show() -> None:
    """The findings as a table, and a choice for each convention the route lets the user change."""
    result = _current()
    if result is None:
        st.caption("Check the model to see what the import finds (input range and layout, posterior, output "
                   "kind, latent shape) before it runs; each can then be changed.")
        return
    if "error" in result:
        st.error(f"Check: {result['error']}")
        return
    findings = result["found"].get("findings", {})
    st.markdown("**What the import found**")
    st.table({"convention": [LABELS.get(k, k) for k in findings],
              "value": [md(v["value"]) for v in findings.values()],
              "how": [md(v["how"]) for v in findings.values()]})
    route = st.session_state.get("open_route")
    for name in ROUTE_CHOICES.get(route, ()):
        found = findings.get(name, {}).get("value")
        st.selectbox(f"Change the {LABELS[name]}", [AS_FOUND, *ImportSpec.CHOICES[name]],
                     format_func=lambda v, found=found: f"{AS_FOUND} ({found})" if v == AS_FOUND else v,
                     key=f"open_change_{name}")


def flags() -> list[str]:
    """Command-line flags for the conventions the user changed on the current check."""
    if _current() is None:
        return []
    route = st.session_state.get("open_route")
    chosen = [(n, st.session_state.get(f"open_change_{n}", AS_FOUND)) for n in ROUTE_CHOICES.get(route, ())]
    return [arg for name, value in chosen if value != AS_FOUND for arg in (f"--{name.replace('_', '-')}", value)]
