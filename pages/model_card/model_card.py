"""The Model card page's sections."""

from __future__ import annotations

from functools import partial

import numpy as np
import streamlit as st

from ui import access, figures
from ui.text import md
from vae.bundle import Bundle
from vae.evaluation import ACTIVE_UNIT_THRESHOLD, METRIC_NAMES, active_dimensions
from vae.media import to_pixels
from vae.models.inference import reconstruct, sample
from vae.training.options import OPTIONS

HEADLINE = ("test_neg_elbo", "test_recon", "test_kl", "iwae_nll", "active_units")


def number_text(value: object) -> str:
    """A metric as the card shows it: floats to two decimals, anything else as text."""
    if isinstance(value, float):
        return f"{value:.2f}"
    return "?" if value is None else md(value)


def setting_name(key: str) -> str:
    """A training setting as the Train form names it (or as `vae-lab train --help` describes it)."""
    option = OPTIONS.get(key)
    if option is None:
        return key.replace("_", " ")
    return option.label or option.help[0].upper() + option.help[1:]


def setting_text(value: object) -> str:
    """2.0 as 2, [1, 28, 28] as 1×28×28, [32, 64] as 32, 64: numbers as a person writes them."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list) and len(value) == 3 and all(isinstance(v, int) for v in value):
        return "×".join(map(str, value))
    if isinstance(value, list):
        return ", ".join(map(str, value))
    return str(value)


def device_text(card: dict) -> str:
    """'cuda (NVIDIA H100)', or 'cpu' alone where the name says nothing more."""
    device, name = str(card.get("device", "?")), str(card.get("device_name") or "")
    return device if name in ("", device) else f"{device} ({name})"


def summary(bundle: Bundle) -> None:
    card = bundle.config
    metrics = card.get("metrics", {})
    columns = st.columns(len(HEADLINE))
    for column, key in zip(columns, HEADLINE, strict=True):
        value = metrics.get(key)
        text = "—" if value is None else number_text(value)
        label, unit = METRIC_NAMES[key]
        column.metric(label, text, help=unit if key != "active_units" else
                      f"dimensions whose posterior mean varies across the test images (variance > "
                      f"{ACTIVE_UNIT_THRESHOLD}); the KL chart below shows them in colour")
    if "iwae_k" in metrics:
        st.caption(f"IWAE estimate with k = {number_text(metrics['iwae_k'])} samples on "
                   f"{number_text(metrics.get('iwae_images'))} test images (± "
                   f"{number_text(metrics.get('iwae_nll_stderr'))} s.e.); the −ELBO of those images is "
                   f"{number_text(metrics.get('iwae_neg_elbo_same_images'))}.")
    training = card["training"]
    rows = {
        "architecture": card["model"]["arch"],
        "model": " · ".join(f"{k.replace('_', ' ')} {setting_text(v)}" for k, v in card["model"].items()
                            if k != "arch"),
        "dataset": f"{card['dataset'].get('name', '?')} ({card['dataset'].get('n_train', '?')} train, "
                   f"{card['dataset'].get('n_test', len(bundle.mu))} test)",
        **{setting_name(k): setting_text(v) for k, v in training.items()},
        "status": f"{card['status']} — {card.get('status_message', '')}",
        "device": f"{device_text(card)}, {card.get('train_time_s', '?')} s",
        "created": card.get("created", "?"),
        "versions": ", ".join(f"{k} {v}" for k, v in card.get("versions", {}).items()),
    }
    if "import" in card:  # a portable bundle: trained elsewhere, so no device; where it came from instead
        del rows["device"]
        rows.update(import_rows(card["import"]))
    st.table({"setting": [md(k) for k in rows], "value": [md(v) for v in rows.values()]})
    from vae.share.browser import ORT_DIR, ORT_MODULE
    from vae.share.site import site_zip  # the static site (`vae-lab export`), on request

    if not (ORT_DIR / ORT_MODULE).is_file():
        return
    if not access.unlocked():  # making the site takes up to half a minute of the server's CPU
        st.caption("This server asks for an access token before it makes a static site (zip) of the model: "
                   "give it on the Train page, then come back.")
    else:
        st.download_button("Download as a static site (zip)", data=partial(site_zip, str(bundle.path)),
                           file_name=f"{bundle.name}-site.zip", mime="application/zip", on_click="ignore",
                           help="The map, images and live decoding as a folder any static host serves, as "
                                "`vae-lab export` writes it (made when clicked: seconds to half a minute)")


def import_rows(record: dict) -> dict[str, str]:
    """How a portable bundle was imported: its source, each convention found and how, and how closely
    its ONNX graphs matched the original model."""
    source = {k: v for k, v in record.items() if k not in ("spec", "parity", "findings", "pixel_rmse")}
    rows = {"imported": ", ".join(f"{k}={v}" for k, v in source.items())}
    for name, finding in record.get("findings", {}).items():
        how = "given by the user" if finding["how"] == "given" else f"found: {finding['how']}"
        rows[name.replace("_", " ")] = f"{finding['value']} ({how})"
    if "findings" not in record:  # imported before conventions were found by running the model
        rows["declared conventions"] = ", ".join(f"{k}={v}" for k, v in record.get("spec", {}).items())
    parity = record.get("parity")
    if parity:
        diffs = ", ".join(f"{k} {v:.1e}" for k, v in parity["max_abs_diff"].items())
        rows["ONNX vs original"] = (f"max |difference| on {parity['images']} images and {parity['codes']} codes: "
                                    f"{diffs} (limit {parity['tolerance']:g})")
    return rows


def curves(bundle: Bundle) -> None:
    history = bundle.config.get("history", [])
    if not history:
        return
    left, right = st.columns(2)
    left.plotly_chart(figures.history_figure(
        history, [("train_neg_elbo", "train −ELBO"), ("test_neg_elbo", "test −ELBO")], "−ELBO"),
        key="curve-elbo")
    right.plotly_chart(figures.history_figure(
        history, [("test_recon", "reconstruction"), ("test_kl", "KL")], "test terms"), key="curve-terms")


@st.cache_data(show_spinner=False, max_entries=8)
def _prior_samples(path: str, _bundle: Bundle, n: int, seed: int) -> np.ndarray:
    return sample(_bundle.model, n, seed=seed, scale=3)


def pictures(bundle: Bundle) -> None:
    left, right = st.columns(2)
    with left:
        st.subheader("Originals and reconstructions")
        originals = to_pixels(bundle.images[:12], 3)
        reconstructions = reconstruct(bundle.model, bundle.images[:12], 3)
        st.image(figures.image_grid(np.concatenate([originals, reconstructions]), columns=12),
                 caption="top: test images · bottom: reconstructions")
        st.subheader("Samples from the prior")
        st.image(figures.image_grid(_prior_samples(str(bundle.path), bundle, 24, 0), columns=12),
                 caption="z ~ N(0, I), seed 0")
    with right:
        active = active_dimensions(bundle.mu)
        st.plotly_chart(figures.kl_bar_figure(bundle.kl_per_dim, active), key="kl-bars")
        st.caption(f"{int(active.sum())} of {len(active)} dimensions active: their code (the posterior mean) "
                   f"varies across the test images, variance above {ACTIVE_UNIT_THRESHOLD} (Burda et al. 2016). "
                   "A dimension with a small KL can still be active; an inactive one changes nothing decoded.")
