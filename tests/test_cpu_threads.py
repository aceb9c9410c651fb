"""Training's CPU threads: chosen by timing each epoch's first steps, or fixed, and restored afterwards."""

import pytest
import torch

from vae.models import ConvConfig, build_model
from vae.training import Callback, TrainConfig, Trainer
from vae.training.threads import ThreadChoice


def run_steps(choice: ThreadChoice, seconds: dict[int, float], steps: int) -> list[int]:
    """Threads each step ran at, when a step at n threads takes seconds[n]."""
    used = []
    for _ in range(steps):
        choice.before_step()
        used.append(torch.get_num_threads())
        choice.after_step(seconds[choice.current])
    return used


class EpochThreads(Callback):
    def __init__(self):
        self.threads = []

    def on_epoch_end(self, trainer, metrics):
        self.threads.append(metrics["cpu_threads"])


@pytest.fixture()
def keep_threads():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize(("seconds", "fastest"), [({1: 0.1, 2: 0.3}, 1), ({1: 0.3, 2: 0.1}, 2)])
def test_the_trial_steps_alternate_then_the_fastest_count_trains_on(keep_threads, seconds, fastest):
    choice = ThreadChoice((1, 2), trial_steps=3)
    assert run_steps(choice, seconds, 10) == [1, 2] * 3 + [fastest] * 4
    choice.start_epoch()  # each epoch tries again: the machine's load changes
    assert run_steps(choice, {1: seconds[2], 2: seconds[1]}, 8) == [1, 2] * 3 + [3 - fastest] * 2


def test_a_fixed_count_is_kept(keep_threads):
    choice = ThreadChoice.for_cpu(1)
    assert run_steps(choice, {1: 0.1}, 3) == [1, 1, 1] and choice.trials == []


def test_training_chooses_a_count_lowers_the_loss_and_gives_the_threads_back(synthetic, keep_threads):
    torch.set_num_threads(2)
    torch.manual_seed(0)
    model = build_model(ConvConfig(latent_dim=4, channels=(8, 16), hidden=32))
    epochs = EpochThreads()
    result = Trainer(model, TrainConfig(epochs=2, batch_size=64, device="cpu"),
                     synthetic.train_images, synthetic.test_images, callbacks=[epochs]).fit()
    assert result.history[-1]["train_neg_elbo"] < result.history[0]["train_neg_elbo"]
    assert len(epochs.threads) == 2 and set(epochs.threads) <= {1, 2}
    assert torch.get_num_threads() == 2


def test_a_fixed_count_trains_at_that_count_only(synthetic, keep_threads):
    torch.set_num_threads(2)
    epochs = EpochThreads()
    model = build_model(ConvConfig(latent_dim=4, channels=(8, 16), hidden=32))
    Trainer(model, TrainConfig(epochs=1, batch_size=64, device="cpu"), synthetic.train_images,
            synthetic.test_images, callbacks=[epochs], cpu_threads=1).fit()
    assert epochs.threads == [1] and torch.get_num_threads() == 2
