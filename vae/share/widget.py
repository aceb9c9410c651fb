"""The explorer inside Jupyter: an anywidget that shows a shared site's explorer (web/explorer.js)
with the app's components, and hands selections back to Python.

    from vae_lab.notebook import explore
    widget = explore("checkpoints/fashion-mnist-conv-z16")   # or explore(model, images)
    widget                                                   # the map, click and hover, sliders
    widget.selected                                          # {"indices": [...], "codes": (n, D) array}

The kernel sends the explorer what a site's files hold (the decoder as ONNX, the images as a WebP
atlas, the map and values as data, Plotly.js and onnxruntime-web's WebAssembly gzip-compressed):
~10 MB for 10,000 images, once per widget. Decoding then runs in the browser, as on a site.
"""

from __future__ import annotations

import json
from pathlib import Path

import anywidget
import numpy as np
import torch
import traitlets

from vae.bundle import Bundle, load_bundle
from vae.diagnostics.per_image import per_image_values
from vae.latent.projection import pca_2d
from vae.losses import kl_per_dim
from vae.models import VAE
from vae.models.inference import encode
from vae.share.components import COMPONENTS_DIR, MAP_EVENTS_JS, component_js
from vae.share.site import (
    DEFAULT_IMAGES,
    ORT_DIR,
    ORT_MODULE,
    ORT_WASM,
    PLOTLY_PACKED,
    WEB,
    components_module,
    explorer_module,
    packed_scripts,
    site_parts,
)


def _esm() -> str:
    """web/widget.js, after the sources of the modules it makes (see its top)."""
    sources = {"vae_lab": components_module(), "map_events": component_js(MAP_EVENTS_JS),
               "explorer": explorer_module(), "ort": (ORT_DIR / ORT_MODULE).read_text()}
    return f"const SOURCES = {json.dumps(sources)};\n{(WEB / 'widget.js').read_text()}"


class Explorer(anywidget.AnyWidget):
    """The map, the selected image and the live decoder of one model; `selected` follows the clicks."""

    site = traitlets.Dict().tag(sync=True)
    decoder = traitlets.Bytes().tag(sync=True)
    atlas = traitlets.Bytes().tag(sync=True)
    plotly = traitlets.Bytes().tag(sync=True)
    ort_wasm = traitlets.Bytes().tag(sync=True)
    selected_index = traitlets.Int(None, allow_none=True).tag(sync=True)  # a test index of the map's images
    code = traitlets.List(traitlets.Float()).tag(sync=True)  # the sliders' code
    colour = traitlets.Unicode("class").tag(sync=True)
    selected = traitlets.Dict()  # {"indices": [...], "codes": (n, D) posterior means}, from selected_index

    def __init__(self, bundle: Bundle, images: int = DEFAULT_IMAGES, projection: str | None = None) -> None:
        parts = site_parts(bundle, images, projection)
        packed = packed_scripts()
        self._mu = bundle.mu
        self._n = len(bundle.mu)
        # Read by AnyWidget.__init__, which makes them the front end's module and style sheet.
        self._esm = _esm()
        self._css = (COMPONENTS_DIR / "live_decoder.css").read_text() + (WEB / "explorer.css").read_text()
        super().__init__(site=parts.data, decoder=parts.decoder, atlas=parts.atlas, plotly=packed[PLOTLY_PACKED],
                         ort_wasm=packed[f"onnxruntime-web/{ORT_WASM}.gz"])

    @traitlets.validate("selected_index")
    def _valid_index(self, proposal: dict) -> int | None:
        index = proposal["value"]
        if index is not None and not 0 <= index < self._n:
            raise traitlets.TraitError(f"selected_index must be 0..{self._n - 1} or None, not {index}")
        return index

    @traitlets.observe("selected_index")
    def _select(self, change: dict) -> None:
        index = change["new"]
        indices = [] if index is None else [int(index)]
        self.selected = {"indices": indices, "codes": np.asarray(self._mu[indices], dtype=np.float32)}


def in_memory_bundle(model: VAE, images: np.ndarray | torch.Tensor, labels: np.ndarray | None = None,
                     class_names: list[str] | None = None, name: str = "in memory") -> Bundle:
    """A bundle held in memory for a model (native or portable) and (N, C, H, W) images (uint8, or
    floats in [0, 1]): their codes, a PCA map (the 2-D latent itself for D = 2) and −ELBO values."""
    array = images.detach().cpu().numpy() if isinstance(images, torch.Tensor) else np.asarray(images)
    if array.dtype != np.uint8:
        array = (np.clip(array, 0, 1) * 255 + 0.5).astype(np.uint8)
    if array.ndim != 4 or tuple(array.shape[1:]) != tuple(model.config.input_shape):
        raise ValueError(f"images must be (N, {', '.join(map(str, model.config.input_shape))}), not {array.shape}")
    mu, logvar = encode(model, array)
    labels = np.zeros(len(array), dtype=np.int64) if labels is None else np.asarray(labels, dtype=np.int64)
    class_names = class_names or [f"class {c}" for c in range(int(labels.max()) + 1)]
    projection = {"latent": {"xy": mu.astype(np.float32)}} if mu.shape[1] == 2 else {"pca": pca_2d(mu)}
    kl = kl_per_dim(torch.as_tensor(mu), torch.as_tensor(logvar)).mean(dim=0).numpy()
    config = {"name": name, "dataset": {"class_names": class_names}, "training": {}, "metrics": {}}
    return Bundle(Path(name), config, model, mu, logvar, labels, kl, array, projection,
                  per_image_values(model, array))


def explore(source: str | Path | Bundle | VAE, images: np.ndarray | torch.Tensor | None = None, *,
            labels: np.ndarray | None = None, class_names: list[str] | None = None,
            max_images: int = DEFAULT_IMAGES, projection: str | None = None) -> Explorer:
    """The explorer widget of a bundle (its folder, or one loaded), or of a model and images in memory."""
    if isinstance(source, VAE):
        if images is None:
            raise ValueError("explore(model, images): a model needs the images to map")
        bundle = in_memory_bundle(source, images, labels, class_names)
    else:
        bundle = source if isinstance(source, Bundle) else load_bundle(source)
    return Explorer(bundle, max_images, projection)
