"""Shared fixtures: a tiny generated dataset and a bundle trained on it in seconds."""

from __future__ import annotations

import base64
import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from streamlit.testing.v1 import AppTest

from ui.navigation import page
from vae.bundle import write_bundle
from vae.data import ImageDataset, make_synthetic
from vae.models import ConvConfig, MLPConfig, build_model
from vae.training import TrainConfig, Trainer

ROOT = Path(__file__).resolve().parent.parent


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items) -> None:
    """Groups for `pytest -n 2 --dist loadgroup` (test.sh): a file's tests share one worker, so its
    module fixtures are built once, and the browser tests all share one, so at most one app server
    and one Chromium run beside the other worker's tests on a 2-core machine.

    First among the hooks: xdist's worker reads the groups in its own hook of this name, and without
    `tryfirst` that ran before this one, so every test went to either worker.
    """
    for item in items:
        browser = "browser" in item.path.relative_to(ROOT).parts
        item.add_marker(pytest.mark.xdist_group("browser" if browser else item.path.name))


def page_script(folder: str) -> str:
    """The script of the page in pages/<folder>, as AppTest.from_file and switch_page take it."""
    return str(page(folder).script)


@pytest.fixture(scope="session", autouse=True)
def user_train_dir(tmp_path_factory) -> Path:
    """Bundles trained by a test (and every server a test starts) go to a temporary folder, never
    into the user's own training folder or the shipped checkpoints/."""
    folder = tmp_path_factory.mktemp("user-train-dir")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("VAE_LAB_TRAIN_DIR", str(folder))
        yield folder


@pytest.fixture(scope="session", autouse=True)
def user_data_dir(tmp_path_factory) -> Path:
    """Annotations saved by a test (and by every server a test starts) go to a temporary folder, never
    into the user's own data folder."""
    folder = tmp_path_factory.mktemp("user-data-dir")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("VAE_LAB_DATA", str(folder))
        yield folder


@pytest.fixture(scope="session")
def synthetic() -> ImageDataset:
    return make_synthetic(n_train=512, n_test=128, seed=1)


def train_tiny(dataset: ImageDataset, arch: str = "mlp", latent_dim: int = 4, epochs: int = 2):
    torch.manual_seed(0)
    config = (MLPConfig(latent_dim=latent_dim, hidden=(64,)) if arch == "mlp"
              else ConvConfig(latent_dim=latent_dim, channels=(8, 16), hidden=32))
    model = build_model(config)
    result = Trainer(model, TrainConfig(epochs=epochs, batch_size=64, device="cpu"),
                     dataset.train_images, dataset.test_images).fit()
    return model, result


def bundle_meta(dataset: ImageDataset, result) -> dict:
    return {
        "name": "tiny", "status": result.status, "training": TrainConfig(epochs=2).to_dict(),
        "dataset": {"name": dataset.name, "class_names": dataset.class_names},
        "history": result.history, "metrics": {"test_neg_elbo": result.history[-1]["test_neg_elbo"]},
        "device": "cpu",
    }


@pytest.fixture()
def tiny_bundle(tmp_path: Path, synthetic: ImageDataset) -> Path:
    """A fresh valid bundle (MLP, 4-D latent) in tmp_path, safe to corrupt."""
    model, result = train_tiny(synthetic)
    return write_bundle(tmp_path / "tiny", model, synthetic.test_images, synthetic.test_labels,
                        bundle_meta(synthetic, result))


@pytest.fixture(scope="session")
def portable_source(tmp_path_factory, synthetic: ImageDataset):
    """(native tiny MLP, the portable bundle exported from it through the torch route), made once."""
    from vae.portable.build import portable_from_torch, write_portable_bundle
    from vae.portable.data import MapData
    from vae.portable.spec import ImportSpec

    model, _ = train_tiny(synthetic)
    model.eval()
    data = MapData("synthetic", synthetic.test_images, synthetic.test_labels, synthetic.class_names)
    spec = ImportSpec(input_shape=(1, 28, 28), input_range="unit", input_layout="nchw", posterior="logvar",
                      decoder_output="logits", likelihood="bernoulli")
    portable, spec, record = portable_from_torch(model, model.encode, model.decode_logits, spec, data)
    out = tmp_path_factory.mktemp("portable") / "portable"
    write_portable_bundle(out, portable, data, spec, {"route": "torch", **record},
                          iwae_k=10, iwae_images=32, umap=False)
    return model, out


@pytest.fixture()
def portable_bundle(tmp_path: Path, portable_source) -> Path:
    """A fresh copy of the portable bundle, safe to corrupt."""

    return Path(shutil.copytree(portable_source[1], tmp_path / "portable"))


def drop_bundle_file(path: Path, name: str) -> None:
    """Remove one file and its config.json record: a bundle as an older version wrote it."""
    import json

    config = json.loads((path / "config.json").read_text())
    del config["files"][name]
    (path / "config.json").write_text(json.dumps(config, indent=2))
    (path / name).unlink()


@pytest.fixture()
def old_bundle(tiny_bundle: Path) -> Path:
    """A valid bundle without per-image values, as bundles written before they existed."""
    drop_bundle_file(tiny_bundle, "per_image.npz")
    return tiny_bundle


def write_large_map(out: Path, n: int) -> Path:
    """A bundle of `n` random 4-D codes (no encoding: seconds for 200,000), blank images kept mapped."""
    data = make_synthetic(n_train=16, n_test=16)
    rng = np.random.default_rng(0)
    mu = rng.normal(size=(n, 4)).astype(np.float32)
    logvar = np.full((n, 4), -2.0, np.float32)
    labels = rng.integers(0, len(data.class_names), n)
    meta = {"name": out.name, "status": "completed", "training": TrainConfig(epochs=1).to_dict(),
            "dataset": {"name": data.name, "class_names": data.class_names, "n_test": n},
            "history": [], "metrics": {}, "device": "cpu"}
    return write_bundle(out, build_model(MLPConfig(latent_dim=4, hidden=(32,))),
                        np.zeros((n, 1, 28, 28), np.uint8), labels, meta, codes=(mu, logvar), large=True)


# The pages headless (AppTest) on a folder of tiny bundles: tests/test_app*.py and test_portable_app.py.
@pytest.fixture()
def checkpoints(tmp_path, tiny_bundle, monkeypatch):
    """A checkpoints folder with one good bundle, one whose weights are corrupt (same size) and one
    whose weights are truncated."""
    folder = tmp_path / "extra"
    folder.mkdir()
    for name in ("good", "broken", "truncated"):
        shutil.copytree(tiny_bundle, folder / name)
    weights = folder / "broken" / "model.safetensors"
    weights.write_bytes(b"\x00" * weights.stat().st_size)
    weights = folder / "truncated" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    monkeypatch.setenv("VAE_LAB_CHECKPOINTS", str(folder))
    return folder


def run_page(name: str, query: dict | None = None) -> AppTest:
    at = AppTest.from_file(page_script(name), default_timeout=60)
    for key, value in (query or {}).items():
        at.query_params[key] = value
    at.session_state["bundle_choice"] = "good"
    return at.run()


def slider_data(at: AppTest) -> dict:
    """What the Explore page sent its slider component: the rows and the code they show."""
    (data,) = [d for d in (json.loads(c.proto.json) for c in at.get("bidi_component")) if "rows" in d]
    return data


def selection_grid(at: AppTest) -> dict | None:
    """What the Explore page sent its selection grid (pages/explore/map_selection.py), None if no grid."""
    grids = [d for d in (json.loads(c.proto.json) for c in at.get("bidi_component")) if "captions" in d]
    return grids[0] if grids else None


def selection_tiles(grid: dict) -> np.ndarray:
    """The grid's tiles, (N, H, W[, 3]) uint8, cut from the one picture it sends."""
    sprite = np.asarray(Image.open(io.BytesIO(base64.b64decode(grid["sprite"].split(",", 1)[1]))))
    h, w, columns = grid["height"], grid["width"], grid["columns"]
    return np.stack([sprite[i // columns * h:(i // columns + 1) * h, i % columns * w:(i % columns + 1) * w]
                     for i in range(len(grid["captions"]))])


def slider_values(at: AppTest) -> list[float]:
    return slider_data(at)["values"]


def app_at(folder: str) -> AppTest:
    """The app as its entry script runs it, switched to the page in pages/<folder>."""
    at = AppTest.from_file(str(ROOT / "ui" / "app.py"), default_timeout=60)
    at.session_state["bundle_choice"] = "good"
    at.run()
    return at.switch_page(page_script(folder)).run()
