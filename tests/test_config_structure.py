"""config.json fuzzed by its structure, not only its bytes: any value of any JSON type, at any place,
nested or sized as an attacker likes, gives a bundle that loads or one refused with reasons, quickly;
and a config that loads renders every page that shows it (issue 12, "What it must show", 1)."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from streamlit.testing.v1 import AppTest

from vae.bundle import CONFIG, BundleError, load_bundle, write_bundle
from vae.bundle.catalog import inspect
from vae.data import make_synthetic

from .conftest import bundle_meta, page_script, train_tiny

SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20), st.sampled_from(["", "x" * 5_000, "[a](http://evil.example)", "\x00", "../../etc"]),
)
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                                          max_size=4), max_leaves=12)


def paths(value, prefix=()):
    """Every place in a JSON document, as the keys and indices that lead there."""
    yield prefix
    if isinstance(value, dict):
        for key, child in value.items():
            yield from paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value[:3]):
            yield from paths(child, (*prefix, index))


def mutated(config: dict, draw, places: list[tuple]) -> dict:
    """`config` with one to three places replaced, removed, deepened, lengthened or joined by a new key."""
    config = json.loads(json.dumps(config))
    for _ in range(draw(st.integers(1, 3))):
        place = draw(st.sampled_from(places))
        parent, key = config, None
        try:
            for step in place[:-1]:
                parent = parent[step]
            key = place[-1] if place else None
            current = parent[key] if place else parent
        except (KeyError, IndexError, TypeError):
            continue
        how = draw(st.sampled_from(["replace", "remove", "nest", "lengthen", "add"]))
        if how == "replace":
            new = draw(VALUES)
        elif how == "nest":
            new = current
            for _ in range(draw(st.sampled_from([1, 5, 50, 5_000]))):
                new = [new]
        elif how == "lengthen":  # long lists of small things (a long list of the whole config is just big)
            small = isinstance(current, int | float | str | None) and len(str(current)) < 200
            new = [current] * (draw(st.sampled_from([2, 1_000, 50_000])) if small else 2)
        elif how == "add" and isinstance(current, dict):
            current[draw(st.text(max_size=8))] = draw(VALUES)
            continue
        else:
            new = None
        if not place:
            config = new if how != "remove" else {}
        elif how == "remove" and isinstance(parent, dict):
            del parent[key]
        else:
            parent[key] = new
    return config


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    dataset = make_synthetic(n_train=256, n_test=64, seed=5)
    model, result = train_tiny(dataset, epochs=1)
    return write_bundle(tmp_path_factory.mktemp("structure") / "bundle", model, dataset.test_images,
                        dataset.test_labels, bundle_meta(dataset, result))


def write_config(bundle: Path, config) -> None:
    try:
        text = json.dumps(config, allow_nan=True)
    except (ValueError, RecursionError):  # json itself cannot write it: then nobody can send it either
        text = "[" * 100_000
    (bundle / CONFIG).write_text(text)


FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)


def test_any_config_structure_loads_or_is_refused_quickly(pristine, tmp_path):
    work = tmp_path / "bundle"
    shutil.copytree(pristine, work)
    original = json.loads((pristine / CONFIG).read_text())
    places = list(paths(original))
    outcomes = {"loaded": 0, "refused": 0}

    @FUZZ
    @given(data=st.data())
    def check(data):
        write_config(work, mutated(original, data.draw, places))
        started = time.monotonic()
        entry = inspect(work)
        assert entry.valid or entry.problems
        try:
            bundle = load_bundle(work)
        except BundleError as exc:
            assert exc.problems and all(isinstance(p, str) and 0 < len(p) < 2_000 for p in exc.problems)
            outcomes["refused"] += 1
        else:
            outcomes["loaded"] += 1
            assert bundle.class_names and bundle.image_label(len(bundle.mu) - 1)
        assert time.monotonic() - started < 5  # parsing is the cost: up to 1.5 MB of nested lists here

    check()
    assert outcomes["refused"] >= 200 and outcomes["loaded"] >= 10, outcomes  # most mutations break a bundle


SHOWN = ["name", "status_message", "device", "device_name", "created", "versions", "metrics", "history",
         "train_time_s", "dataset", "training"]


def test_a_config_that_loads_renders_the_model_card_and_the_explorer(pristine, tmp_path, monkeypatch):
    """The fields the pages show, fuzzed: a config the checks let through never breaks a page."""
    folder = tmp_path / "checkpoints"
    shutil.copytree(pristine, folder / "fuzzed")
    monkeypatch.setenv("VAE_LAB_CHECKPOINTS", str(folder))
    original = json.loads((pristine / CONFIG).read_text())
    places = [p for p in paths(original) if p and p[0] in SHOWN]
    pages = {name: AppTest.from_file(page_script(name), default_timeout=60)
             for name in ("model_card", "explore")}
    for at in pages.values():
        at.session_state["bundle_choice"] = "fuzzed"
    rendered = []

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    @given(data=st.data())
    def check(data):
        config = mutated(original, data.draw, places)
        write_config(folder / "fuzzed", config)
        try:
            load_bundle(folder / "fuzzed")
        except BundleError:
            return
        for name, at in pages.items():
            at.run()
            assert not at.exception, (name, json.dumps(config)[:500])
        rendered.append(config)

    check()
    assert len(rendered) >= 8
