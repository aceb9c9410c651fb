"""`vae-lab export` without a browser: what the site folder holds, and what the command refuses.

The site in a browser: tests/browser/test_share_site.py.
"""

from __future__ import annotations

import base64
import gzip
import io
import json
from pathlib import Path

import numpy as np
import onnxruntime
import plotly.offline
import pytest
from PIL import Image

from vae.bundle import load_bundle
from vae.cli.main import main
from vae.diagnostics import cache
from vae.latent import tsne
from vae.latent.selection import display_subset
from vae.models.inference import decode
from vae.share.components import COMPONENTS_DIR, LIVE_DECODER_JS, MAP_EVENTS_JS
from vae.share.site import ORT_DIR

from .conftest import ROOT

Z2 = ROOT / "checkpoints" / "fashion-mnist-conv-z2"
needs_onnxruntime_web = pytest.mark.skipif(not (ORT_DIR / "ort.wasm.bundle.min.mjs").is_file(),
                                           reason=f"onnxruntime-web is not in {ORT_DIR}: run scripts/web-assets.sh")
pytestmark = needs_onnxruntime_web


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("export") / "site"
    assert main(["export", str(Z2), "--out", str(out), "--images", "300"]) == 0
    return out


def array(text: str, dtype: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(text), dtype=np.dtype(dtype).newbyteorder("<"))


def test_the_site_holds_a_fixed_sample_with_its_test_indices_and_values(site):
    bundle = load_bundle(Z2)
    data = json.loads((site / "site.json").read_text())
    keep = display_subset(len(bundle.mu), 300)
    assert data["n_images"] == 300 and data["n_bundle"] == len(bundle.mu) and data["encoder"] is False
    np.testing.assert_array_equal(array(data["indices"], "int32"), keep)
    np.testing.assert_array_equal(array(data["labels"], "int32"), bundle.labels[keep])
    np.testing.assert_array_equal(array(data["xy"], "float32"), bundle.projections["latent"]["xy"][keep].ravel())
    np.testing.assert_array_equal(array(data["codes"], "float16"), bundle.mu[keep].astype(np.float16).ravel())
    elbo = next(v for v in data["values"] if v["key"] == "neg_elbo")
    np.testing.assert_array_equal(array(elbo["values"], "float32"), bundle.per_image["neg_elbo"][keep])
    assert data["placement"] == {"kind": "latent"} and data["projection"] == "latent"


def test_the_atlas_tiles_the_sample_in_order(site):
    data = json.loads((site / "site.json").read_text())
    layout = data["atlas"]
    picture = Image.open(site / layout["file"])
    assert picture.format == "WEBP"  # a plain picture that any browser decodes
    atlas = np.asarray(picture.convert("L"), dtype=np.int16)
    assert atlas.shape == (17 * 28, 18 * 28) and layout["columns"] == 18  # ceil(sqrt(300)) columns, 17 rows
    images = load_bundle(Z2).images[array(data["indices"], "int32")][:, 0].astype(np.int16)
    for slot in (0, 17, 18, 299):
        row, column = divmod(slot, 18)
        tile = atlas[row * 28:(row + 1) * 28, column * 28:(column + 1) * 28]
        assert np.abs(tile - images[slot]).mean() < 4  # lossy, but this image and no other


def test_the_decoder_file_decodes_as_the_model_does(site):
    bundle = load_bundle(Z2)
    data = json.loads((site / "site.json").read_text())
    session = onnxruntime.InferenceSession(str(site / data["decoder"]["file"]), providers=["CPUExecutionProvider"])
    codes = np.random.default_rng(0).standard_normal((4, 2)).astype(np.float32)
    (probs,) = session.run(None, {"z": codes})
    assert data["decoder"]["image_shape"] == [1, 28, 28] and data["decoder"]["output"] == "probs"
    got = (np.clip(probs, 0, 1) * 255 + 0.5).astype(np.int16)[:, 0]
    assert np.abs(got - decode(bundle.model, codes).astype(np.int16)).max() <= 2  # float16 weights


def test_the_scripts_are_the_apps_own_and_the_packed_ones_unpack_to_the_originals(site):
    joined = (site / "vae_lab.js").read_text()
    for name in LIVE_DECODER_JS:
        assert (COMPONENTS_DIR / name).read_text() in joined
    map_events = (site / "map_events.js").read_text()
    assert all((COMPONENTS_DIR / name).read_text() in map_events for name in MAP_EVENTS_JS)
    assert gzip.decompress((site / "plotly.min.js.gz").read_bytes()).decode() == plotly.offline.get_plotlyjs()
    wasm = site / "onnxruntime-web" / "ort-wasm-simd-threaded.wasm.gz"
    assert gzip.decompress(wasm.read_bytes()) == (ORT_DIR / "ort-wasm-simd-threaded.wasm").read_bytes()
    html = (site / "index.html").read_text()
    assert "default-src 'self'" in html and "http" not in html.replace("http-equiv", "")


def test_an_export_replaces_an_earlier_one_but_no_other_folder(site, tmp_path, capsys):
    assert main(["export", str(Z2), "--out", str(site), "--images", "300"]) == 0
    assert "total" in capsys.readouterr().out
    other = tmp_path / "notes"
    other.mkdir()
    (other / "mine.txt").write_text("keep me")
    assert main(["export", str(Z2), "--out", str(other)]) == 2
    assert "holds no earlier export" in capsys.readouterr().err
    assert [p.name for p in other.iterdir()] == ["mine.txt"]
    assert main(["export", str(Z2), "--out", str(tmp_path / "new"), "--images", "0"]) == 2
    assert main(["export", str(Z2), "--out", str(tmp_path / "new"), "--projection", "umap"]) == 2
    assert "no 'umap' map" in capsys.readouterr().err



def test_the_zip_holds_the_same_site(site):
    import zipfile

    from vae.share.site import site_zip

    with zipfile.ZipFile(io.BytesIO(site_zip(Z2, images=300))) as archive:
        names = {name for name in archive.namelist()}
        expected = {f"{Z2.name}-site/{p.relative_to(site)}" for p in site.rglob("*") if p.is_file()}
        assert names == expected
        assert archive.read(f"{Z2.name}-site/site.json") == (site / "site.json").read_bytes()


def test_a_tsne_map_computed_in_the_app_is_exported_from_the_user_cache(tiny_bundle, tmp_path, monkeypatch):
    """The app keeps a t-SNE map in the user cache, not in the bundle: `--projection tsne` finds it there."""
    monkeypatch.setenv(cache.CACHE_VAR, str(tmp_path / "cache"))
    n = len(load_bundle(tiny_bundle).mu)
    xy = np.stack([np.arange(n) * 0.5 - 3, (np.arange(n) % 7) ** 2], axis=1).astype(np.float32)
    assert tsne.write_map(tiny_bundle, {"xy": xy}) is not None
    out = tmp_path / "site"
    assert main(["export", str(tiny_bundle), "--out", str(out), "--projection", "tsne"]) == 0
    data = json.loads((out / "site.json").read_text())
    assert data["projection"] == "tsne"
    np.testing.assert_array_equal(array(data["xy"], "float32"), xy[array(data["indices"], "int32")].ravel())
    assert not (tiny_bundle / "projection_tsne.npz").exists()  # the bundle itself is untouched
