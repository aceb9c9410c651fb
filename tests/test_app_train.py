"""The Train page headless (AppTest): its form, the checks beside each field, one job at a time, the status."""

import pytest
from streamlit.testing.v1 import AppTest

from ui.text import visible

from .conftest import page_script


@pytest.fixture()
def train_dir(tmp_path, monkeypatch):
    folder = tmp_path / "runs"
    folder.mkdir()
    monkeypatch.setenv("VAE_LAB_TRAIN_DIR", str(folder))
    return folder


def train_page() -> AppTest:
    return AppTest.from_file(page_script("train"), default_timeout=60).run()


def start_button(at: AppTest):
    return next(b for b in at.button if b.label == "Start training")


def test_train_page_shows_the_form_and_which_datasets_are_offline(train_dir):
    at = train_page()
    assert not at.exception
    options = at.selectbox(key="train_dataset").options
    assert any("synthetic · on this machine" == o for o in options)
    assert any("cifar10 · needs a download" == o for o in options)
    assert at.info and "No training job yet" in at.info[0].value


def test_a_path_traversal_name_is_refused_next_to_the_field(train_dir):
    at = train_page()
    at.text_input(key="train_name").set_value("../../etc/x")
    start_button(at).click().run()
    assert not at.exception
    assert any("letters, digits" in visible(e.value) for e in at.error)
    assert list(train_dir.iterdir()) == [] and not (train_dir.parent.parent / "etc").exists()


def test_out_of_bounds_values_are_refused_next_to_their_fields(train_dir):
    at = train_page()
    at.number_input(key="train_kl_warmup_epochs").set_value(50.0)
    at.number_input(key="train_epochs").set_value(5)
    start_button(at).click().run()
    assert any("longer than training" in visible(e.value) for e in at.error)
    assert list(train_dir.iterdir()) == []


def test_start_from_a_second_tab_is_refused_while_a_job_runs(train_dir):
    from vae.training.jobs import JobRegistry, TrainRequest

    other_tab = train_page()  # loaded before the job started: its Start button is enabled
    jobs = JobRegistry(train_dir)
    jobs.start(TrainRequest(name="running-one", dataset="synthetic", arch="mlp", latent_dim=2, epochs=1000))
    try:
        other_tab.selectbox(key="train_dataset").set_value("synthetic")
        other_tab.text_input(key="train_name").set_value("second-one")
        start_button(other_tab).click().run()
        assert not other_tab.exception
        assert any("already running: 'running-one'" in visible(e.value) for e in other_tab.error)
        assert not (train_dir / "second-one").exists()
        assert any(b.label == "Cancel" for b in other_tab.button)
    finally:
        jobs.cancel()
        assert not jobs.wait(60).running


def test_after_a_job_the_name_field_offers_a_new_name_and_the_status_names_no_process(train_dir):
    from .hostile import evil, write_job_with_markup

    write_job_with_markup(train_dir)  # a finished job named evil("jobname"), its state at pid 2**22 + 7
    at = AppTest.from_file(page_script("train"), default_timeout=60)
    at.session_state["train_name"] = evil("jobname")  # the name that job used, still in the field
    at.run()
    assert not at.exception
    assert at.text_input(key="train_name").value.startswith("my-vae-")
    status = next(c.value for c in at.caption if "training folder" in c.value)
    assert "pid" not in status and str(2**22 + 7) not in status and str(train_dir) not in status
    assert "into run/ in the training folder" in visible(status)


def test_the_quick_look_preset_fills_the_form_and_the_estimate_is_shown_before_start(train_dir):
    """The defaults train a conv model for 10 epochs (half an hour on a CPU): the page says so before Start,
    and one click sets a model that trains in about a minute."""
    at = train_page()
    before = next(c.value for c in at.caption if c.value.startswith("About "))
    assert "for 10 epochs of 60,000 images" in before and "conv, 16-D, batch 128" in before
    at.button(key="train_preset_quick").click().run()
    assert not at.exception
    assert (at.selectbox(key="train_arch").value, at.number_input(key="train_latent_dim").value,
            at.number_input(key="train_epochs").value) == ("mlp", 2, 3)
    quick = next(c.value for c in at.caption if c.value.startswith("About "))
    assert "for 3 epochs of 60,000 images" in quick and "mlp, 2-D, batch 128" in quick
    minutes = {c: _minutes(c) for c in (before, quick)}
    # Measured on this machine: 3 epochs against 10 at the same speed alone give 3.3x; the MLP is faster per
    # image too (about 10x in all on a quiet machine, 8.3x in a loaded CI run).
    assert minutes[quick] < minutes[before] / 3
    at.button(key="train_preset_defaults").click().run()
    assert (at.selectbox(key="train_arch").value, at.number_input(key="train_epochs").value) == ("conv", 10)


def _minutes(caption: str) -> float:
    """The estimate of a caption 'About 12m 03s for …' (or 'About 40s for …') in minutes."""
    eta = caption.split()[1]
    if "m" in eta:
        return int(eta.split("m")[0]) + int(caption.split()[2].rstrip("s")) / 60
    return int(eta.rstrip("s")) / 60
