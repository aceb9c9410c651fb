"""What the latent dimensions mean: informative dimensions by KL, class centroids, attribute directions."""

from __future__ import annotations

import numpy as np

COLLAPSED_KL = 0.01  # nats: a dimension whose mean KL is below this carries no information


def order_dimensions(kl_per_dim: np.ndarray, threshold: float = COLLAPSED_KL) -> tuple[list[int], list[int]]:
    """(informative dims by KL, most first; collapsed dims) — the sliders' order."""
    order = [int(d) for d in np.argsort(-np.asarray(kl_per_dim), kind="stable")]
    return [d for d in order if kl_per_dim[d] >= threshold], [d for d in order if kl_per_dim[d] < threshold]


def slider_rows(kl_per_dim: np.ndarray) -> list[dict]:
    """One slider per dimension, informative ones first (by KL), unused ones marked: the app's and the
    shared site's. `kl` is the dimension's KL to the prior in nats; `hint` says so in words."""
    informative, collapsed = order_dimensions(kl_per_dim)
    rows = [{"dim": d, "kl": round(float(kl_per_dim[d]), 4), "label": f"z{d} · {kl_per_dim[d]:.2f} nats",
             "hint": f"Latent dimension z{d}. Its KL to the prior, averaged over the test images, is "
                     f"{kl_per_dim[d]:.2f} nats: how much information the images put in it. The larger, the "
                     "more this slider changes the image.", "collapsed": False} for d in informative]
    return rows + [{"dim": d, "kl": round(float(kl_per_dim[d]), 4), "label": f"z{d} · unused",
                    "hint": f"Latent dimension z{d} is unused (KL to the prior ≈ 0): the decoder ignores it.",
                    "collapsed": True} for d in collapsed]


def class_centroid(codes: np.ndarray, labels: np.ndarray, label: int) -> np.ndarray:
    """Mean code of one class."""
    members = codes[np.asarray(labels) == label]
    if len(members) == 0:
        raise ValueError(f"no codes with label {label}")
    return members.mean(axis=0).astype(np.float32)


def attribute_direction(codes: np.ndarray, source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """centroid(target) - centroid(source) for two index sets (classes or map selections)."""
    source, target = np.asarray(source), np.asarray(target)
    if source.size == 0 or target.size == 0:
        raise ValueError("both groups need at least one point")
    return (codes[target].mean(axis=0) - codes[source].mean(axis=0)).astype(np.float32)
