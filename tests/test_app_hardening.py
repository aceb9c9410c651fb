"""Pages under hostile input and the defects a new user met, headless (AppTest).

What only a browser shows (links rendered, requests leaving the machine, labels cut off, map
clicks) is in tests/browser/test_hardening.py.
"""

from __future__ import annotations

import json
import re
import shutil
import threading
import time

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from ui.text import md, visible
from vae.bundle import load_bundle, write_bundle
from vae.data import make_synthetic
from vae.training.jobs import JobRegistry
from vae.training.live_map import LIVE_MAP, read_live_map

from .conftest import ROOT, bundle_meta, page_script, train_tiny
from .hostile import FOLDER, evil, link_query, short_evil, write_bundle_with_markup, write_job_with_markup

# What Markdown or HTML would turn into a link or an image; ui.text.md leaves none of it unescaped.
UNSAFE = re.compile(r"(?<!\\)(<img|<a |\]\(|!\[)|https?://|www\.|@evil")
PAGES = ("explore", "interpolate", "generate", "your_image", "model_card", "train")


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """One bundle full of markup, and a plain 2-D one (another latent size than the 4-D 'good')."""
    folder = tmp_path_factory.mktemp("hostile")
    write_bundle_with_markup(folder)
    dataset = make_synthetic(n_train=256, n_test=64, seed=4)
    model, result = train_tiny(dataset, latent_dim=2, epochs=1)
    write_bundle(folder / "plain-z2", model, dataset.test_images, dataset.test_labels, bundle_meta(dataset, result))
    return folder


@pytest.fixture()
def runs(tmp_path, monkeypatch):
    """This test's training folder."""
    monkeypatch.setenv("VAE_LAB_TRAIN_DIR", str(tmp_path / "runs"))
    return tmp_path / "runs"


@pytest.fixture()
def checkpoints(folder, tiny_bundle, monkeypatch, runs):
    shutil.copytree(tiny_bundle, folder / "good", dirs_exist_ok=True)
    monkeypatch.setenv("VAE_LAB_CHECKPOINTS", str(folder))
    monkeypatch.delenv("VAE_LAB_TOKEN", raising=False)
    return folder


def page(name: str, bundle: str = "good", query: dict | None = None) -> AppTest:
    at = AppTest.from_file(page_script(name), default_timeout=60)
    for key, value in (query or {}).items():
        at.query_params[key] = value
    at.session_state["bundle_choice"] = bundle
    return at


def texts(at: AppTest) -> list[str]:
    """Every Markdown source the page sent: titles, captions, alerts, toasts, labels, table cells."""
    kinds = ("title", "subheader", "caption", "markdown", "error", "warning", "info", "success", "toast")
    found = [e.value for kind in kinds for e in getattr(at, kind)]
    found += [m.label for m in at.metric] + [s.label for s in at.slider]
    found += [json.dumps(t.proto.SerializeToString().decode("latin-1")) for t in at.get("table")]
    return found


@pytest.mark.parametrize("name", PAGES)
def test_every_page_survives_a_bundle_and_a_link_full_of_markup(checkpoints, runs, name):
    write_job_with_markup(runs)
    at = page(name, FOLDER, link_query()).run()
    assert not at.exception
    shown = texts(at)
    for source in shown:
        assert not UNSAFE.search(source), source


def test_the_model_card_shows_each_text_of_the_bundle_as_written(checkpoints):
    at = page("model_card", FOLDER).run()
    title = at.title[0].value
    assert visible(title) == f"Model card · {evil('name')}" and title == f"Model card · {md(evil('name'))}"
    table = at.get("table")[0].proto.SerializeToString().decode("utf-8", "replace")
    for text in (evil("status"), evil("created"), short_evil("vk"), short_evil("ver")):
        assert md(text) in table


def test_the_model_card_of_a_bundle_whose_dataset_has_no_name(checkpoints, tiny_bundle):
    """The bundle format lets dataset.name out (found by the config fuzz test): the card says '?'."""
    shutil.copytree(tiny_bundle, checkpoints / "unnamed-data", dirs_exist_ok=True)
    config_file = checkpoints / "unnamed-data" / "config.json"
    config = json.loads(config_file.read_text())
    del config["dataset"]["name"]
    config_file.write_text(json.dumps(config))
    at = page("model_card", "unnamed-data").run()
    assert not at.exception
    table = at.get("table")[0].proto.SerializeToString().decode("utf-8", "replace")
    assert md("? (") in table


def test_a_link_to_an_unknown_model_is_echoed_as_text(checkpoints):
    at = page("explore", query=link_query()).run()
    (warning,) = [w.value for w in at.sidebar.warning]
    assert evil("link") in visible(warning) and md(evil("link")) in warning


def test_switching_the_model_raises_no_false_notice_about_the_link(checkpoints):
    at = page("explore", query={"bundle": "good", "z": "0.5,-1,0.25,2"}).run()
    assert not at.toast
    at.sidebar.selectbox[0].set_value("plain-z2").run()
    assert not at.exception and not at.toast  # the 4-D code of the link is not a malformed 2-D one
    assert at.query_params["bundle"] == "plain-z2"


def test_the_model_card_names_the_device_once(checkpoints):
    at = page("model_card").run()
    table = at.get("table")[0].proto.SerializeToString().decode("utf-8", "replace")
    assert "cpu \\(cpu\\)" not in table and "cpu (cpu)" not in table and "cpu, " in visible(table)


def test_the_iwae_button_estimates_with_progress_and_records_it(checkpoints, monkeypatch):
    import pages.model_card.iwae
    from vae.evaluation import iwae_estimate

    release = threading.Event()

    def held_back(*args, progress, **kwargs):  # the real estimate, once the test has seen it under way
        progress(16, 64)
        release.wait(30)
        return iwae_estimate(*args, progress=progress, **kwargs)

    monkeypatch.setattr(pages.model_card.iwae, "iwae_estimate", held_back)
    at = page("model_card").run()
    assert "—" in [m.value for m in at.metric if m.label == "IWAE −log p(x)"]
    at.selectbox(key="iwae_k").set_value(100)
    at.button(key="iwae-start").click().run()
    (bar,) = at.get("progress")
    assert bar.proto.value == 12 and "16/128 test images" in bar.proto.text
    release.set()
    deadline = time.monotonic() + 60
    while "iwae_nll" not in load_bundle(checkpoints / "good").config["metrics"] and time.monotonic() < deadline:
        time.sleep(0.2)
    metrics = load_bundle(checkpoints / "good").config["metrics"]
    assert metrics["iwae_k"] == 100 and metrics["iwae_images"] == 128
    at.run()
    assert not at.exception and not at.get("progress")
    assert [m.value for m in at.metric if m.label == "IWAE −log p(x)"] == [f"{metrics['iwae_nll']:.2f}"]


def test_the_iwae_button_waits_for_the_access_token(checkpoints, monkeypatch):
    monkeypatch.setenv("VAE_LAB_TOKEN", "s3cret-token")
    at = page("model_card").run()
    assert not [b for b in at.button if b.key == "iwae-start"]
    assert at.text_input(key="access_token_entry")


def test_an_ended_job_says_how_many_epochs_it_completed(checkpoints, runs):
    write_job_with_markup(runs)
    with (runs / "run" / "events.jsonl").open("a") as events:  # one epoch done, killed in the second
        events.write(json.dumps({"event": "epoch_end", "epoch": 1, "test_neg_elbo": 200.0}) + "\n")
        events.write(json.dumps({"event": "step_end", "epoch": 2, "step": 1, "global_step": 3, "recon": 1,
                                 "kl": 1}) + "\n")
    at = page("train").run()
    assert not at.exception
    (bar,) = at.get("progress")
    assert visible(bar.proto.text) == "cancelled · 1/2 epochs completed" and bar.proto.value == 50
    assert "finished" not in bar.proto.text and "epoch 2/2" not in bar.proto.text


@pytest.mark.parametrize("damage", ["empty", "not-a-zip", "truncated", "pipe", "folder", "bad-shape"])
def test_a_damaged_live_map_does_not_break_the_train_panel(checkpoints, runs, damage):
    import os

    write_job_with_markup(runs)
    live = runs / "run" / LIVE_MAP
    if damage == "empty":
        live.write_bytes(b"")
    elif damage == "not-a-zip":
        live.write_bytes(b"PK\x03\x04 this is no zip file")
    elif damage == "truncated":
        live.write_bytes(live.read_bytes()[:200])
    elif damage == "pipe":
        live.unlink()
        os.mkfifo(live)
    elif damage == "folder":
        live.unlink()
        live.mkdir()
    else:
        np.savez(live, xy=np.zeros((5, 3)), labels=np.zeros(5, dtype=int), epoch=np.int64(1))
    started = time.monotonic()
    assert read_live_map(live.parent) is None
    at = page("train").run()
    assert time.monotonic() - started < 30
    assert not at.exception and not [c for c in at.get("plotly_chart") if "live" in c.proto.spec]


def test_the_train_page_asks_for_the_token_before_start_or_cancel(checkpoints, monkeypatch):
    monkeypatch.setenv("VAE_LAB_TOKEN", "s3cret-token")
    at = page("train").run()
    assert not [b for b in at.button if b.label == "Start training"]
    at.text_input(key="access_token_entry").input("wrong")
    at.button[0].click().run()
    assert any("not the access token" in e.value for e in at.error)
    assert not [b for b in at.button if b.label == "Start training"]
    at.text_input(key="access_token_entry").input("s3cret-token")
    at.button[0].click().run()
    assert [b for b in at.button if b.label == "Start training"]


def test_the_shipped_folder_is_refused_as_the_training_folder(checkpoints, monkeypatch):
    monkeypatch.setenv("VAE_LAB_TRAIN_DIR", str(ROOT / "checkpoints"))
    at = page("train").run()
    assert not at.exception and any("never writes" in visible(e.value) for e in at.error)
    assert not [b for b in at.button if b.label == "Start training"]
    assert not (ROOT / "checkpoints" / ".jobs").exists()


def test_a_new_training_folder_is_ignored_by_git(tmp_path):
    folder = tmp_path / "deep" / "runs"
    JobRegistry(folder).cancel()
    assert (folder / ".gitignore").read_text().splitlines()[-1] == "*"


def test_the_training_folder_is_the_users_own_unless_chosen(monkeypatch, tmp_path):
    from ui.bundles import train_dir

    monkeypatch.delenv("VAE_LAB_TRAIN_DIR", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert train_dir([]) == tmp_path / "data" / "vae-lab" / "checkpoints"
    monkeypatch.setenv("VAE_LAB_TRAIN_DIR", str(tmp_path / "env"))
    assert train_dir([]) == tmp_path / "env"
    assert train_dir(["--train-dir", str(tmp_path / "flag")]) == tmp_path / "flag"  # the app's own arguments


@pytest.fixture()
def odd_bundles(tmp_path, monkeypatch, runs):
    """A model with a 1-D latent, and one whose class 3 has no test images."""
    folder = tmp_path / "odd"
    dataset = make_synthetic(n_train=256, n_test=64, seed=6)
    model, result = train_tiny(dataset, latent_dim=1, epochs=1)
    write_bundle(folder / "z1", model, dataset.test_images, dataset.test_labels, bundle_meta(dataset, result))
    keep = dataset.test_labels != 3
    model, result = train_tiny(dataset, epochs=1)
    write_bundle(folder / "no-class-3", model, dataset.test_images[keep], dataset.test_labels[keep],
                 bundle_meta(dataset, result))
    monkeypatch.setenv("VAE_LAB_CHECKPOINTS", str(folder))
    return folder


@pytest.mark.parametrize("name", PAGES[:-1])
def test_a_model_with_a_1d_latent_shows_every_page(odd_bundles, name):
    at = page(name, "z1").run()
    assert not at.exception
    if name == "generate":
        assert any("one informative dimension" in c.value for c in at.caption)


def test_a_class_without_test_images_offers_no_centroid_or_direction(odd_bundles):
    at = page("generate", "no-class-3").run()
    assert not at.exception
    options = at.selectbox(key="attribute_from").options
    assert len(options) == 9 and not any(option.endswith("row 3") for option in options)
    at = page("interpolate", "no-class-3").run()
    at.radio(key="interp_A_source").set_value("class centroid").run()
    assert not at.exception and "row 3" not in at.selectbox(key="interp_A_class").options


def test_a_rerun_neither_rescans_nor_reopens_the_bundles(checkpoints, monkeypatch):
    import vae.bundle.catalog
    from ui.bundles import _scan_cached

    _scan_cached.clear()
    listed = []
    real_inspect = vae.bundle.catalog.inspect
    monkeypatch.setattr(vae.bundle.catalog, "inspect", lambda path: listed.append(path) or real_inspect(path))
    at = page("explore").run()
    first = len(listed)
    at.run()
    at.run()
    assert not at.exception and first > 0 and len(listed) == first  # cached until a bundle changes
