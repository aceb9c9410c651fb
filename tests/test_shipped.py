"""The shipped bundles load with the library alone, offline, and meet their model-card claims."""

import socket
from pathlib import Path

import pytest

from vae.bundle import load_bundle
from vae.bundle.catalog import candidate_dirs
from vae.data import datasets

from .conftest import ROOT

# By name: a bundle a user trained into checkpoints/ (older versions wrote there) is not a shipped one.
SHIPPED_NAMES = ("fashion-mnist-conv-z16", "fashion-mnist-conv-z2")
SHIPPED = [ROOT / "checkpoints" / name for name in SHIPPED_NAMES]
MAX_BUNDLE_BYTES = 15 * 2**20


def test_there_are_shipped_bundles():
    assert set(SHIPPED_NAMES) <= {p.name for p in candidate_dirs(ROOT / "checkpoints")}


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_bundle_loads_without_dataset_or_network(path: Path, monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("loading a bundle must not touch the network")

    def no_dataset(*args, **kwargs):
        raise AssertionError("loading a bundle must not read a dataset")

    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(datasets, "load_idx_dataset", no_dataset)
    bundle = load_bundle(path)
    card = bundle.config
    assert card["status"] == "completed"
    assert card["dataset"]["name"] == "fashion-mnist" and card["dataset"]["n_train"] == 60_000
    assert bundle.mu.shape[0] == 10_000 and bundle.images.shape == (10_000, 1, 28, 28)
    assert card["device"] in ("cpu", "cuda", "mps") or card["device"].startswith("cuda")
    assert sum(f.stat().st_size for f in path.iterdir() if f.is_file()) < MAX_BUNDLE_BYTES
    expected = {"latent"} if bundle.latent_dim == 2 else {"pca", "umap"}
    assert set(bundle.projections) == expected


REFERENCE_NEG_ELBO = 244.35  # pytorch/examples' MLP VAE, 10 epochs, on this machine
TARGET_NEG_ELBO = 234.0  # the foundation issue's bar: about 10 nats better than the reference


def test_shipped_conv_model_beats_the_reference_and_has_an_iwae_estimate():
    card = load_bundle(ROOT / "checkpoints" / "fashion-mnist-conv-z16").config
    metrics = card["metrics"]
    assert card["model"]["arch"] == "conv" and card["model"]["latent_dim"] == 16
    assert metrics["test_neg_elbo"] <= TARGET_NEG_ELBO < REFERENCE_NEG_ELBO
    assert metrics["iwae_k"] >= 1000 and metrics["iwae_images"] >= 1000
    assert metrics["iwae_nll"] <= metrics["iwae_neg_elbo_same_images"]
