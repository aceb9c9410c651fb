"""The data a shared site reads (`site.json`): the map, classes, per-image values and codes.

Arrays travel as little-endian base64 (the browser code's convention). Images keep their test index
(`indices`) in every place a person sees one, also when the site holds a sample of them. The codes
(posterior means) are float16, once: the sliders show two decimals, and a UMAP map's placement
(`placement`, kind "neighbours") reads the same array. Neighbours are found in the page, on the codes
it has, as vae.latent.placement.nearest_neighbours finds them.
"""

from __future__ import annotations

import numpy as np
from plotly.colors import qualitative

from vae.bundle import Bundle
from vae.diagnostics.colour import clipped_range
from vae.diagnostics.per_image import FIELDS, LABELS
from vae.evaluation import likelihood_of
from vae.latent.attributes import slider_rows
from vae.share.browser import placement
from vae.share.components import base64_array

# The first the bundle has is the site's map, as in the app; t-SNE (computed on request, vae/latent/tsne.py) last.
PROJECTIONS = ("umap", "latent", "pca", "tsne")
PROJECTION_LABELS = {"umap": "UMAP", "pca": "PCA", "latent": "latent (2-D)", "tsne": "t-SNE"}
SLIDER_LIMIT = 3.0  # the sliders' range, here and in the app
SLIDER_STEP = 0.05


def class_colours(n: int) -> list[str]:
    """A qualitative palette (Plotly's D3 + Set3 ones) long enough for n classes, as the app's."""
    palette = qualitative.D3 + qualitative.Set3
    return [palette[i % len(palette)] for i in range(n)]


def choose_projection(bundle: Bundle, wanted: str | None) -> str:
    """`wanted`, or the first map the bundle has of UMAP, latent, PCA."""
    if wanted is not None:
        if wanted not in bundle.projections:
            raise ValueError(f"{bundle.name} has no {wanted!r} map (it has {', '.join(sorted(bundle.projections))})")
        return wanted
    return next(p for p in PROJECTIONS if p in bundle.projections)


def per_image_of(bundle: Bundle, keep: np.ndarray) -> dict[str, np.ndarray]:
    """Each kept image's −ELBO and its terms: the bundle's, else computed now for those images."""
    if bundle.per_image is not None:
        return {name: bundle.per_image[name][keep] for name in FIELDS}
    from vae.diagnostics.per_image import per_image_values

    likelihood, sigma = likelihood_of(bundle.config["training"])
    return per_image_values(bundle.model, bundle.images[keep], likelihood, sigma)


def site_data(bundle: Bundle, keep: np.ndarray, projection: str, decoder: dict, atlas: dict) -> dict:
    """Everything `site.js` shows, for the images at `keep` on the map `projection`."""
    place = placement(bundle, projection, keep)
    codes = place.pop("codes", None) or base64_array(bundle.mu[keep], "float16")
    values = per_image_of(bundle, keep)
    metrics = bundle.config.get("metrics", {})
    return {
        "name": bundle.name, "kind": bundle.config.get("kind", "native"), "latent_dim": bundle.latent_dim,
        "class_names": bundle.class_names, "class_colours": class_colours(len(bundle.class_names)),
        "projection": projection, "projection_label": PROJECTION_LABELS[projection],
        "n_images": len(keep), "n_bundle": len(bundle.mu), "encoder": False,
        "test_neg_elbo": metrics.get("test_neg_elbo"),
        "indices": base64_array(keep, "int32"), "labels": base64_array(bundle.labels[keep], "int32"),
        "xy": base64_array(bundle.projections[projection]["xy"][keep], "float32"),
        "codes": codes,
        "values": [{"key": name, "label": LABELS[name], "values": base64_array(values[name], "float32"),
                    "range": clipped_range(values[name])} for name in FIELDS],
        "sliders": {"rows": slider_rows(bundle.kl_per_dim), "limit": SLIDER_LIMIT, "step": SLIDER_STEP},
        "decoder": decoder, "placement": place, "atlas": atlas,
    }
