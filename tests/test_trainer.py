"""The training loop: loss falls, callbacks see every event and can stop it, NaN ends it cleanly."""

import math

import pytest
import torch

from vae.models import MLPConfig, build_model
from vae.training import Callback, EventLog, TrainConfig, Trainer, lr_at, read_events

from .conftest import train_tiny


class Recorder(Callback):
    def __init__(self, stop_at_step=None):
        self.events, self.stop_at_step = [], stop_at_step

    def on_train_start(self, trainer, info):
        self.events.append(("train_start", info))

    def on_step_end(self, trainer, metrics):
        self.events.append(("step_end", metrics))
        if self.stop_at_step and metrics["global_step"] >= self.stop_at_step:
            trainer.request_stop("test asked")

    def on_eval_end(self, trainer, metrics):
        self.events.append(("eval_end", metrics))

    def on_epoch_end(self, trainer, metrics):
        self.events.append(("epoch_end", metrics))

    def on_train_end(self, trainer, result):
        self.events.append(("train_end", result))


def test_tiny_training_run_lowers_the_loss(synthetic):
    _, result = train_tiny(synthetic, epochs=4)
    losses = [h["test_neg_elbo"] for h in result.history]
    assert result.status == "completed" and result.epochs_completed == 4
    assert losses[-1] < losses[0] - 20, losses


def test_conv_model_trains_too(synthetic):
    _, result = train_tiny(synthetic, arch="conv", epochs=2)
    assert result.history[-1]["train_neg_elbo"] < result.history[0]["train_neg_elbo"]


def test_callbacks_receive_every_named_event(synthetic):
    recorder = Recorder()
    model = build_model(MLPConfig(latent_dim=2, hidden=(16,)))
    Trainer(model, TrainConfig(epochs=2, batch_size=128), synthetic.train_images,
            synthetic.test_images, [recorder]).fit()
    names = [name for name, _ in recorder.events]
    assert names[0] == "train_start" and names[-1] == "train_end"
    assert names.count("epoch_end") == names.count("eval_end") == 2
    step = next(m for n, m in recorder.events if n == "step_end")
    assert {"epoch", "step", "steps_per_epoch", "global_step", "total_steps", "loss",
            "images_per_s", "eta_s"} <= set(step)
    epoch = next(m for n, m in recorder.events if n == "epoch_end")
    assert {"train_neg_elbo", "test_neg_elbo", "test_recon", "test_kl", "kl_per_dim"} <= set(epoch)


def test_a_callback_can_stop_training_and_last_epoch_is_kept(synthetic):
    recorder = Recorder(stop_at_step=12)  # epoch 2 of 4 steps each
    model = build_model(MLPConfig(latent_dim=2, hidden=(16,)))
    result = Trainer(model, TrainConfig(epochs=5, batch_size=128), synthetic.train_images,
                     synthetic.test_images, [recorder]).fit()
    assert result.status == "cancelled" and "test asked" in result.message
    assert result.epochs_completed == 2
    for key, value in model.state_dict().items():  # the model is rolled back to epoch 2's end
        assert torch.equal(value, result.state_dict[key])


def test_nan_loss_stops_with_a_clear_message(synthetic):
    class Poison(Callback):
        def on_epoch_end(self, trainer, metrics):
            with torch.no_grad():
                trainer.model.to_logits.bias.fill_(float("nan"))

    model = build_model(MLPConfig(latent_dim=2, hidden=(16,)))
    result = Trainer(model, TrainConfig(epochs=3, batch_size=128), synthetic.train_images,
                     synthetic.test_images, [Poison()]).fit()
    assert result.status == "failed" and "loss became nan" in result.message
    assert result.epochs_completed == 1


def test_same_seed_same_result(synthetic):
    runs = [train_tiny(synthetic, epochs=1)[1].history[0]["test_neg_elbo"] for _ in range(2)]
    assert runs[0] == runs[1]


def test_event_log_is_json_lines_another_process_can_read(synthetic, tmp_path):
    log = EventLog(tmp_path / "events.jsonl", step_interval_s=0)
    model = build_model(MLPConfig(latent_dim=2, hidden=(16,)))
    Trainer(model, TrainConfig(epochs=1, batch_size=128), synthetic.train_images,
            synthetic.test_images, [log]).fit()
    with (tmp_path / "events.jsonl").open("a") as handle:
        handle.write('{"event": "partial')  # a writer caught mid-line
    events = read_events(tmp_path / "events.jsonl")
    assert events[0]["event"] == "train_start" and events[-1]["event"] == "train_end"
    assert any(e["event"] == "epoch_end" for e in events)


def test_lr_schedules():
    assert lr_at(500, 1000, 1e-3, "constant") == 1e-3
    assert lr_at(0, 1000, 1e-3, "cosine") == pytest.approx(1e-3)
    assert lr_at(999, 1000, 1e-3, "cosine") == pytest.approx(2e-5)
    assert math.isclose(lr_at(499, 999, 1e-3, "cosine"), 0.51e-3, rel_tol=1e-3)


@pytest.mark.parametrize("field, value", [("epochs", 0), ("lr", -1.0), ("batch_size", 10**6),
                                          ("likelihood", "poisson"), ("lr_schedule", "step")])
def test_train_config_bounds(field, value):
    with pytest.raises(ValueError, match=field):
        TrainConfig(**{field: value}).validate()
