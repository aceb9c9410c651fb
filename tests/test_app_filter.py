"""The Explore page's filter, named selections, tags and metadata, headless (AppTest): the count shown, the
map greyed, the grid and the selection following the filter, and what is saved in the user's folder.
Expected sets are worked out here from the bundle's labels and values, not by the filter's own code."""

from __future__ import annotations

import json
import re
import shutil

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from vae.bundle import load_bundle
from vae.diagnostics import annotations as store
from vae.diagnostics import cache
from vae.diagnostics.metadata import read_metadata_csv

from .conftest import page_script, selection_grid
from .plotly_spec import decode, point_traces

GOOD = "good"


def key(part: str) -> str:
    return f"filter_{part}@{GOOD}"


@pytest.fixture()
def folder(tmp_path, tiny_bundle, monkeypatch):
    root = tmp_path / "extra"
    root.mkdir()
    shutil.copytree(tiny_bundle, root / GOOD)
    monkeypatch.setenv("VAE_LAB_CHECKPOINTS", str(root))
    monkeypatch.setenv(cache.CACHE_VAR, str(tmp_path / "cache"))
    monkeypatch.setenv(store.DATA_VAR, str(tmp_path / "data"))
    return root


def explore(**state) -> AppTest:
    at = AppTest.from_file(page_script("explore"), default_timeout=60)
    at.session_state["bundle_choice"] = at.session_state["bundle"] = GOOD
    for name, value in state.items():
        at.session_state[name] = value
    return at.run()


def figure(at: AppTest) -> dict:
    return json.loads(at.get("plotly_chart")[0].proto.spec)


def count_caption(at: AppTest) -> str:
    (caption,) = [c.value for c in at.caption if "images match" in c.value]
    return caption


def grid_captions(at: AppTest) -> list[str]:
    (grid,) = [image for image in at.get("image") if re.fullmatch(r"#\d+ · -?\d+\.\d", image.proto.imgs[0].caption)]
    return [i.caption for i in grid.proto.imgs]


def test_a_class_filter_counts_greys_the_others_on_the_map_and_keeps_selections_to_it(folder):
    bundle = load_bundle(folder / GOOD)
    at = explore()
    assert not at.exception and not [c for c in at.caption if "images match" in c.value]
    at.multiselect(key=key("classes")).set_value([1]).run()
    kept = [i for i in range(len(bundle.labels)) if bundle.labels[i] == 1]
    assert not at.exception
    assert count_caption(at).startswith(f"**{len(kept)} of 128 images match**")
    fig = figure(at)
    shown = sorted(np.concatenate([decode(t["customdata"]) for t in point_traces(fig)]).tolist())
    assert shown == kept
    (grey,) = [t for t in fig["data"] if str(t.get("name", "")).startswith("not in the filter")]
    assert len(decode(grey["x"])) == 128 - len(kept) and grey["hoverinfo"] == "skip"
    # A selection made before the filter keeps only the images the filter keeps.
    at.session_state["map_selection"] = np.arange(0, 64)
    at.run()
    in_both = [i for i in kept if i < 64]
    assert any(h.value == f"Selection: {len(in_both)} images matching the filter" for h in at.subheader)
    assert selection_grid(at)["captions"] == [f"#{i}" for i in in_both]


def test_the_grid_follows_the_filter_and_sorts_right_within_it(folder):
    bundle = load_bundle(folder / GOOD)
    neg_elbo = bundle.per_image["neg_elbo"]
    at = explore()
    at.toggle(key="grid_on").set_value(True).run()
    at.selectbox(key="grid_sort").set_value("neg_elbo").run()
    at.text_input(key=key("indices")).input("3, 10-20; 100").run()
    assert not at.exception
    chosen = [3, *range(10, 21), 100]
    worst_first = sorted(chosen, key=lambda i: (-float(neg_elbo[i]), i))
    assert grid_captions(at) == [f"#{i} · {neg_elbo[i]:.1f}" for i in worst_first]
    assert count_caption(at).startswith("**13 of 128 images match**")
    at.toggle(key="grid_descending_neg_elbo").set_value(False).run()  # best first
    assert grid_captions(at) == [f"#{i} · {neg_elbo[i]:.1f}" for i in sorted(chosen, key=lambda i: (neg_elbo[i], i))]
    # A −ELBO range on top: only the images of the index list between the two values.
    at.selectbox(key=key("value")).set_value("neg_elbo").run()
    low, high = sorted(float(neg_elbo[i]) for i in chosen)[2], float(neg_elbo.max())
    at.slider(key=key("range_neg_elbo")).set_value((low, high)).run()
    both = sorted((i for i in chosen if low <= neg_elbo[i] <= high), key=lambda i: (neg_elbo[i], i))
    assert len(both) == 11 and grid_captions(at) == [f"#{i} · {neg_elbo[i]:.1f}" for i in both]
    next(b for b in at.button if b.label == "Clear the filter").click().run()
    assert not [c for c in at.caption if "images match" in c.value]


def test_index_text_that_cannot_be_read_says_why_and_filters_nothing(folder):
    at = explore()
    at.text_input(key=key("indices")).input("4, 9-2").run()
    assert not at.exception
    assert [w.value for w in at.warning] == ["The filter is not applied: the range 9\\-2 runs backwards"]
    assert not [c for c in at.caption if "images match" in c.value]


def test_tagging_and_saving_the_selection_keep_them_in_the_users_folder_and_show_them_on_the_map(folder, tmp_path):
    bundle = load_bundle(folder / GOOD)
    at = explore(map_selection=np.array([5, 2, 9, 40]))
    at.text_input(key="annotations_tags_name").input("=blurry()").run()
    next(b for b in at.button if b.label == "Tag selection").click().run()
    at.text_input(key="annotations_selections_name").input("first four").run()
    next(b for b in at.button if b.label == "Save selection").click().run()
    assert not at.exception
    saved, problem = store.load(folder / GOOD, 128)
    assert problem is None and saved.tags["=blurry()"].tolist() == [2, 5, 9, 40]
    assert saved.selections["first four"].tolist() == [2, 5, 9, 40]
    assert store.store_file(folder / GOOD).parent == tmp_path / "data" / "annotations"
    listed = [m.value for m in at.markdown if "images" in m.value]
    assert "**first four** · 4 images" in listed and "**\\=blurry\\(\\)** · 4 images" in listed
    # Show on map: the filter holds the tag, the map colours its four images alone.
    at.session_state["map_selection"] = None
    at.run()
    next(b for b in at.button if b.key == "annotations_show_tags_0").click().run()
    assert at.multiselect(key=key("tags")).value == ["=blurry()"]
    assert count_caption(at).startswith("**4 of 128 images match**")
    shown = sorted(np.concatenate([decode(t["customdata"]) for t in point_traces(figure(at))]).tolist())
    assert shown == [2, 5, 9, 40] and len(bundle.mu) == 128


def test_the_map_colours_by_a_metadata_column_and_the_filter_takes_its_texts(folder):
    n = 128
    # Even images only: score i mod 3, site 'a' where i is a multiple of 4, else 'b'.
    rows = "".join(f"{i},{i % 3},{'ab'[(i // 2) % 2]}\n" for i in range(0, n, 2))
    meta = read_metadata_csv(f"index,score,site\n{rows}".encode(), n, "mine.csv")
    store.save(folder / GOOD, store.Annotations(metadata=meta), n)
    at = explore()
    assert {"metadata: score", "metadata: site"} <= set(at.selectbox(key="colour_by").options)
    at.selectbox(key="colour_by").set_value("meta:site").run()
    assert not at.exception
    axis = figure(at)["layout"]["coloraxis"]
    assert axis["colorbar"]["ticktext"] == ["(no value)", "a", "b"] and (axis["cmin"], axis["cmax"]) == (-0.5, 2.5)
    at.selectbox(key=key("column")).set_value("meta:site").run()
    at.multiselect(key=key("texts_meta:site")).set_value(["b"]).run()
    assert count_caption(at).startswith("**32 of 128 images match**")  # 2, 6, 10, ..., 126
    at.multiselect(key=key("texts_meta:site")).set_value(["a", ""]).run()  # 'a' or no row: 0, 4, ... and the odd
    assert count_caption(at).startswith("**96 of 128 images match**")
    at.selectbox(key=key("value")).set_value("meta:score").run()
    at.slider(key=key("range_meta:score")).set_value((1.5, 2.0)).run()
    expected = [i for i in range(0, n, 4) if i % 3 == 2]  # 'a' with score 2 (no row: no score)
    assert count_caption(at).startswith(f"**{len(expected)} of 128 images match**")


def test_with_a_token_set_nothing_is_saved_before_it_is_given(folder, tmp_path, monkeypatch):
    monkeypatch.setenv("VAE_LAB_TOKEN", "a-long-random-s3cret")
    at = explore(map_selection=np.array([1, 2, 3]))
    assert not [b for b in at.button if b.label in ("Save selection", "Tag selection")]
    assert not at.get("file_uploader")
    at.text_input(key="access_token_entry").input("a-long-random-s3cret")
    next(b for b in at.button if b.label == "Unlock").click().run()
    assert {"Save selection", "Tag selection"} <= {b.label for b in at.button}
    assert not (tmp_path / "data").exists()
