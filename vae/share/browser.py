"""What ui/components/local_decoder.js needs to decode and place codes in a browser.

The same payload the Explore page sends (pages/explore/live_decoder.py's `local_payload`): the decoder as
ONNX (input "z", (1, D) float32; one output, (1, C, H, W) float32 pixel means or logits) and how
a code finds its map position (vae.latent.placement.ForwardProjector): linear for PCA, the code
itself for a 2-D latent, else the k nearest codes' positions.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vae.bundle import Bundle
from vae.models import VAE
from vae.models.decoder_export import export_decoder
from vae.share.components import base64_array

PLACE_NEIGHBOURS = 8
# scripts/web-assets.sh puts onnxruntime-web beside the app's entry script (ui/static/), which Streamlit
# serves at app/static/; a shared site copies it from there.
ORT_DIR = Path(__file__).resolve().parents[2] / "ui" / "static" / "onnxruntime-web"
ORT_MODULE = "ort.wasm.bundle.min.mjs"


def decoder_onnx(model: VAE) -> tuple[bytes, str]:
    """The decoder as ONNX bytes and its output kind: a portable bundle's own decoder.onnx as it is,
    a native model's exported with float16 weights (raises UnsupportedLayer where it cannot be)."""
    from vae.portable.runtime import PortableVAE  # onnxruntime: only for portable bundles

    if isinstance(model, PortableVAE):
        return model.decoder_graph.SerializeToString(), model.config.decoder_output
    return export_decoder(model), "probs"


def placement(bundle: Bundle, projection: str, keep: np.ndarray) -> dict:
    """How the browser places a code on the map `projection`; `keep` the codes a UMAP placement uses."""
    arrays = bundle.projections[projection]
    if arrays.get("components") is not None:
        return {"kind": "pca", "components": np.asarray(arrays["components"], float).tolist(),
                "mean": np.asarray(arrays["mean"], float).tolist()}
    if bundle.latent_dim == 2:
        return {"kind": "latent"}
    return {"kind": "neighbours", "k": PLACE_NEIGHBOURS, "dim": bundle.latent_dim, "dtype": "float16",
            "codes": base64_array(bundle.mu[keep], "float16"), "xy": base64_array(arrays["xy"][keep], "float32")}
