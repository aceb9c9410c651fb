"""The Latent plane page headless (AppTest): the classic manifold figure on the shipped z2 model, its PNG
and NPY downloads, other directions on the 16-D model, and a cell loaded into the sliders."""

import io
import json
import re

import numpy as np
import pytest
from PIL import Image
from scipy.stats import norm
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.testing.v1 import AppTest

from ui.text import visible
from vae.bundle import load_bundle
from vae.models.inference import decode

from .conftest import ROOT, app_at, page_script

Z2, Z16 = "fashion-mnist-conv-z2", "fashion-mnist-conv-z16"


@pytest.fixture()
def media(monkeypatch) -> dict[str, bytes]:
    """Every file the page hands Streamlit (images, downloads), by its file id: AppTest keeps none."""
    kept = {}
    original = MemoryMediaFileStorage.load_and_get_id

    def keep(self, path_or_data, mimetype, kind, filename=None):
        file_id = original(self, path_or_data, mimetype, kind, filename)
        kept[file_id] = path_or_data
        return file_id

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", keep)
    return kept


def served(media: dict[str, bytes], url: str) -> bytes:
    return media[url.rsplit("/", 1)[-1].split(".")[0]]


def open_plane(name: str) -> AppTest:
    at = AppTest.from_file(page_script("latent_plane"), default_timeout=120)
    at.session_state["bundle_choice"] = name
    return at.run()


def download(at: AppTest, media: dict[str, bytes], start: str) -> tuple[str, bytes]:
    (button,) = [b for b in at.get("download_button") if b.proto.label.startswith(start)]
    return button.proto.label, served(media, button.proto.url)


def test_on_the_z2_model_the_default_plane_is_the_classic_manifold_figure(media):
    at = open_plane(Z2)
    assert not at.exception
    assert at.selectbox(key="plane_axis_across").value == "latent dimension z0"
    assert at.selectbox(key="plane_axis_up").value == "latent dimension z1"
    assert at.radio(key="plane_range").value == "prior" and at.radio(key="plane_origin").value == "zero"
    side = at.slider(key="plane_side").value
    assert side == 15
    # The grid's codes are the prior's quantiles: column c has z0 = ppf(p_c), row r has z1 = ppf(p_{K-1-r}).
    quantiles = norm.ppf(np.linspace(0.05, 0.95, side))
    expected = np.stack(np.meshgrid(quantiles, quantiles[::-1]), axis=-1)  # (K, K, 2)
    _, npy = download(at, media, "Codes (NPY")
    codes = np.load(io.BytesIO(npy), allow_pickle=False)
    assert codes.shape == (side, side, 2) and np.allclose(codes, expected, atol=1e-6)
    # The picture shown is each cell's decode, in its place (shown at a whole-number scale).
    model = load_bundle(ROOT / "checkpoints" / Z2).model
    decodes = decode(model, expected.reshape(-1, 2))  # (K*K, 28, 28)
    (image,) = at.get("image")
    shown = np.asarray(Image.open(io.BytesIO(served(media, image.proto.imgs[0].url))))
    scale = shown.shape[0] // (side * 28)
    assert shown.shape == (side * 28 * scale,) * 2
    cells = shown[::scale, ::scale].reshape(side, 28, side, 28).transpose(0, 2, 1, 3).reshape(-1, 28, 28)
    assert np.abs(cells.astype(int) - decodes.astype(int)).max() <= 1
    caption = visible(" ".join(c.value for c in at.caption))
    assert "Columns: z0 from -1.64 to +1.64" in caption and "Rows: z1 from +1.64 (top) to -1.64 (bottom)" in caption


def test_the_png_download_is_full_resolution_and_its_cells_are_the_decodes(media):
    at = open_plane(Z2)
    at.slider(key="plane_side").set_value(5).run()
    at.radio(key="plane_png_scale").set_value(4).run()
    assert not at.exception
    label, png = download(at, media, "PNG")
    picture = np.asarray(Image.open(io.BytesIO(png)))
    assert picture.shape == (5 * 28 * 4, 5 * 28 * 4) and label == "PNG, 560 × 560 px"
    model = load_bundle(ROOT / "checkpoints" / Z2).model
    quantiles = norm.ppf(np.linspace(0.05, 0.95, 5))
    for row, column in ((0, 0), (1, 3), (4, 4)):
        cell = picture[row * 112:(row + 1) * 112, column * 112:(column + 1) * 112]
        assert (cell == decode(model, np.array([quantiles[column], quantiles[4 - row]]), 4)[0]).all()


def test_the_16d_model_takes_class_centroid_and_principal_directions(media):
    at = open_plane(Z16)
    assert not at.exception
    assert at.radio(key="plane_origin").value == "current code"
    across = at.selectbox(key="plane_axis_across")
    between = [o for o in across.options if o.startswith("class: ")]
    assert len(between) == 90  # ten classes, each to each other one
    across.set_value(between[0]).run()
    at.selectbox(key="plane_axis_up").set_value("principal direction 1").run()
    at.radio(key="plane_range").set_value("sigma").run()
    at.radio(key="plane_origin").set_value("class centroid").run()
    assert not at.exception
    codes = np.load(io.BytesIO(download(at, media, "Codes (NPY")[1]), allow_pickle=False)
    assert codes.shape == (15, 15, 16)
    (chart,) = at.get("plotly_chart")
    layout = json.loads(chart.proto.spec)["layout"]
    assert [shape["type"] for shape in layout["shapes"]] == ["rect"]  # the grid's extent
    caption = visible(" ".join(c.value for c in at.caption))
    assert re.search(r"Columns: .+ → .+ from -\d", caption) and "± 2 σ of the test codes" in caption


def test_a_map_selection_gives_directions_too(checkpoints):
    at = AppTest.from_file(page_script("latent_plane"), default_timeout=60)
    at.session_state["bundle_choice"] = "good"
    at.session_state["bundle"] = "good"  # already chosen: the selection below is this bundle's
    at.session_state["groups"] = [{"label": "map selection of 3 points", "indices": np.array([0, 1, 2])}]
    at.run()
    across = at.selectbox(key="plane_axis_across")
    (chosen,) = [o for o in across.options if o.startswith("map selection of 3 points → ")][:1]
    across.set_value(chosen).run()
    assert not at.exception and at.get("image")
    assert f"Columns: {chosen} from" in visible(" ".join(c.value for c in at.caption))


def test_the_same_direction_twice_spans_no_plane(checkpoints):
    at = app_at("latent_plane")
    at.selectbox(key="plane_axis_up").set_value(at.selectbox(key="plane_axis_across").value).run()
    assert not at.exception and any("parallel" in visible(i.value) for i in at.info)
    assert not at.get("image")


def test_a_cell_loads_into_the_explore_sliders(checkpoints):
    at = app_at("latent_plane")
    at.radio(key="plane_origin").set_value("zero").run()
    at.number_input(key="plane_cell_row").set_value(1).run()
    at.number_input(key="plane_cell_column").set_value(15).run()
    at.button(key="plane-load-cell").click().run()
    assert not at.exception
    assert at.session_state["code_source"] == "latent plane, row 1, column 15"
    top_right = round(float(norm.ppf(0.95)), 2)
    assert sorted(at.session_state["code"]).count(top_right) == 2  # both axes at their 95 % quantile
