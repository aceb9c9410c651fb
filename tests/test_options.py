"""The training options are defined once: the CLI flags, the job request and the Train form follow them."""

import argparse
from dataclasses import asdict, fields
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from vae.cli import train as train_command
from vae.models import REGISTRY
from vae.training import TrainConfig
from vae.training.jobs import TrainRequest
from vae.training.options import FORM_OPTIONS, OPTIONS

from .conftest import page_script


def cli_actions() -> dict[str, argparse.Action]:
    parser = argparse.ArgumentParser()
    train_command.add_arguments(parser)
    return {action.dest: action for action in parser._actions}


def test_every_option_is_a_cli_flag_with_its_default_and_choices():
    actions = cli_actions()
    for option in OPTIONS.values():
        action = actions[option.name]
        assert action.option_strings == [option.cli_flag]
        assert action.default == option.default, option.name
        assert tuple(action.choices or ()) == tuple(option.choices or ()), option.name


def test_the_job_request_and_the_train_config_take_their_fields_and_defaults_from_the_options():
    request = {f.name: f for f in fields(TrainRequest)}
    assert list(request) == [o.name for o in FORM_OPTIONS]
    assert all(request[o.name].default == o.default for o in FORM_OPTIONS if o.name != "name")
    assert all(f.default == OPTIONS[f.name].default for f in fields(TrainConfig))


def test_a_job_request_becomes_the_command_line_that_gives_it_back(tmp_path):
    request = TrainRequest(name="round-trip", dataset="synthetic", arch="mlp", latent_dim=3, beta=0.5,
                           kl_warmup_epochs=1.5, epochs=2, batch_size=32, lr=2e-3, seed=7, device="cpu")
    argv = request.argv(tmp_path / "out")
    assert argv[1:4] == ["-m", "vae.cli", "train"]
    parser = argparse.ArgumentParser()
    train_command.add_arguments(parser)
    parsed = vars(parser.parse_args(argv[4:]))
    assert {name: parsed[name] for name in asdict(request)} == asdict(request)
    assert parsed["out"] == tmp_path / "out"


@pytest.mark.parametrize("name", [o.name for o in OPTIONS.values() if o.bounds])
def test_one_set_of_bounds_for_the_cli_the_request_and_the_trainer(name, tmp_path):
    option = OPTIONS[name]
    low, high = option.bounds
    too_big = high * 2 if high else 1
    assert option.problem(high) is None and option.problem(low) is None and option.problem(too_big)
    if name in {f.name for f in fields(TrainRequest)}:
        assert name in TrainRequest(name="x", **{name: too_big}).validate(tmp_path)
    if name in {f.name for f in fields(TrainConfig)}:
        with pytest.raises(ValueError, match=name):
            TrainConfig(**{name: too_big}).validate()


def test_the_train_form_has_one_widget_per_option_with_its_bounds_and_default(tmp_path, monkeypatch):
    monkeypatch.setenv("VAE_LAB_TRAIN_DIR", str(tmp_path))
    at = AppTest.from_file(page_script("train"), default_timeout=60).run()
    assert not at.exception
    numbers = {n.key.removeprefix("train_"): n for n in at.number_input}
    selects = {s.key.removeprefix("train_"): s for s in at.selectbox}
    assert set(numbers) | set(selects) | {at.text_input(key="train_name").key.removeprefix("train_")} == {
        o.name for o in FORM_OPTIONS}
    for name, widget in numbers.items():
        option = OPTIONS[name]
        assert (widget.min, widget.max) == option.bounds, name
        default = option.default if option.default is not None else REGISTRY[OPTIONS["arch"].default][0]().latent_dim
        assert widget.value == default, name
    assert selects["arch"].value == OPTIONS["arch"].default and selects["device"].value == OPTIONS["device"].default
    assert Path(at.session_state["train_name"]).name  # a generated default name
