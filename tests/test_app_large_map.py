"""The Explore page on a 200,000-point map: a box selects every point inside it; the map draws the
view the browser reports, every point in it once few enough are, over a picture of all of them."""

import base64
import json

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from ui import figures
from ui.state import kept_code
from vae.bundle import load_bundle

from .conftest import page_script, write_large_map
from .plotly_spec import point_traces

N = 200_000
NAME = "large"
MAP_KEY = f"map-{NAME}-pca"


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> str:
    root = tmp_path_factory.mktemp("large-maps")
    write_large_map(root / NAME, N)
    return str(root)


def explore(folder: str, monkeypatch, **state) -> AppTest:
    monkeypatch.setenv("VAE_LAB_CHECKPOINTS", folder)
    at = AppTest.from_file(page_script("explore"), default_timeout=120)
    at.session_state["bundle_choice"] = at.session_state["bundle"] = NAME
    for key, value in state.items():
        at.session_state[key] = value
    return at.run()


def drawn(at: AppTest) -> tuple[np.ndarray, dict]:
    """The point indices the map draws, and its layout."""
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    traces = [t for t in spec["data"] if "customdata" in t]
    indices = np.concatenate([np.array([i for i in t["customdata"] if i is not None], dtype=np.int64)
                              if isinstance(t["customdata"], list)
                              else np.frombuffer(base64.b64decode(t["customdata"]["bdata"]), t["customdata"]["dtype"])
                              for t in traces])  # a class with no point in view holds [None]
    return np.sort(indices), spec["layout"]


def test_a_box_on_the_large_map_selects_every_point_inside_it(folder, monkeypatch):
    box = {"x": [0.9, -0.4], "y": [-0.5, 0.7]}
    at = explore(folder, monkeypatch, **{MAP_KEY: {"selection": {"box": [box], "lasso": [], "points": [],
                                                                  "point_indices": []}}})
    assert not at.exception
    xy = load_bundle(f"{folder}/{NAME}").projections["pca"]["xy"]
    inside = (xy[:, 0] >= -0.4) & (xy[:, 0] <= 0.9) & (xy[:, 1] >= -0.5) & (xy[:, 1] <= 0.7)
    assert np.count_nonzero(inside) > 10_000  # far more than the map draws
    assert np.array_equal(np.sort(at.session_state["map_selection"]), np.flatnonzero(inside))
    assert any(h.value == f"Selection: {np.count_nonzero(inside):,} images" for h in at.subheader)


def test_the_large_map_draws_a_picture_of_every_point_and_every_point_of_a_close_view(folder, monkeypatch):
    at = explore(folder, monkeypatch)
    assert not at.exception
    indices, layout = drawn(at)
    assert len(indices) == 5_000 and len(np.unique(indices)) == 5_000
    assert layout["images"][0]["source"].startswith("data:image/jpeg;base64,")
    assert any(f"PCA of all {N:,} codes" in c.value for c in at.caption)
    # The browser reports a close view: the next run draws that view, every point in it.
    xy = load_bundle(f"{folder}/{NAME}").projections["pca"]["xy"]
    view = [0.0, 0.3, 0.0, 0.3]
    at = explore(folder, monkeypatch, **{"map-events": {"view": {"map": MAP_KEY, "range": view}}})
    assert not at.exception
    indices, layout = drawn(at)
    inside = np.flatnonzero((xy[:, 0] >= 0) & (xy[:, 0] <= 0.3) & (xy[:, 1] >= 0) & (xy[:, 1] <= 0.3))
    assert 0 < len(inside) < 5_000 and np.array_equal(indices, inside)
    # The companion gets the view's points with their codes (a click decodes in the browser at once).
    (companion,) = [json.loads(c.proto.json) for c in at.get("bidi_component") if "map_key" in c.proto.json]
    detail = companion["detail"]
    points = np.frombuffer(base64.b64decode(detail["index"]), "<i4")
    codes = np.frombuffer(base64.b64decode(detail["codes"]), "<f4").reshape(len(points), -1)
    assert np.array_equal(np.sort(points), inside)
    np.testing.assert_array_equal(codes, kept_code(load_bundle(f"{folder}/{NAME}").mu[points]).astype(np.float32))
    assert layout["xaxis"]["range"] == view[:2] and layout["yaxis"]["range"] == view[2:]
    image = layout["images"][0]
    assert (image["x"], image["sizex"]) == pytest.approx((0.0, 0.3)) and image["y"] == pytest.approx(0.3)
    # A view from another map (or none) is the whole map.
    at = explore(folder, monkeypatch, **{"map-events": {"view": {"map": "map-other-pca", "range": view}}})
    _, layout = drawn(at)
    assert layout["xaxis"]["range"] == pytest.approx(list(figures.map_bounds(xy)[:2]))


def test_classes_the_legend_hides_leave_the_picture(folder, monkeypatch):
    at = explore(folder, monkeypatch, **{"map-events": {"hidden": [0, 1]}})
    assert not at.exception
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    hidden = [t for t in spec["data"] if t.get("visible") == "legendonly"]
    assert [t["legendgroup"] for t in hidden] == ["0", "0", "1", "1"]  # each class's points and legend entry
    assert [t["meta"] for t in point_traces(spec) if t.get("visible") == "legendonly"] == [0, 1]
    layout = spec["layout"]
    shown = explore(folder, monkeypatch)
    assert drawn(shown)[1]["images"][0]["source"] != layout["images"][0]["source"]
