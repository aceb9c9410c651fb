"""The KL weight and learning rate the trainer actually uses at each optimiser step of a run, against
values worked out by hand from the run's shape (3 epochs of 3 steps: 9 steps in all)."""

from __future__ import annotations

from itertools import pairwise

import pytest

from vae.models import MLPConfig, build_model
from vae.training import TrainConfig, Trainer
from vae.training import trainer as trainer_module

BASE_LR, BETA = 0.01, 2.0


@pytest.fixture(scope="module")
def steps(synthetic) -> list[tuple[int, float, float]]:
    """(global step, KL weight, learning rate) of every step of a 3-epoch run of 48 images in batches of 16
    with a 2-epoch KL warm-up and the cosine schedule, as the loss and the optimiser received them."""
    seen: list[tuple[int, float, float]] = []
    config = TrainConfig(epochs=3, batch_size=16, lr=BASE_LR, lr_schedule="cosine", beta=BETA,
                         kl_warmup_epochs=2.0, device="cpu")
    trainer = Trainer(build_model(MLPConfig(latent_dim=2, hidden=(16,))), config,
                      synthetic.train_images[:48], synthetic.test_images[:16])
    real_loss = trainer_module.vae_loss

    def recording_loss(logits, x, mu, logvar, kl_scale, *args, **kwargs):
        seen.append((trainer.global_step, kl_scale, trainer.optimizer.param_groups[0]["lr"]))
        return real_loss(logits, x, mu, logvar, kl_scale, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(trainer_module, "vae_loss", recording_loss)
        assert trainer.fit().status == "completed"
    return seen


def test_the_kl_weight_rises_over_the_first_two_epochs_then_stays_at_beta(steps):
    assert [step for step, _, _ in steps] == list(range(9))
    # Warm-up over 2 epochs x 3 steps = 6 steps: beta * step / 6, then beta.
    expected = [0.0, 1 / 3, 2 / 3, 1.0, 4 / 3, 5 / 3, 2.0, 2.0, 2.0]
    assert [weight for _, weight, _ in steps] == pytest.approx(expected)


def test_the_cosine_learning_rate_spans_the_whole_run(steps):
    rates = [lr for _, _, lr in steps]
    assert rates[0] == pytest.approx(BASE_LR)
    assert rates[4] == pytest.approx(0.0051)  # half-way through the run: half-way from the base to its 2% floor
    assert rates[8] == pytest.approx(0.0002)  # the last step: the floor, 2% of the base
    assert rates[3] > rates[4] > rates[5] > 0.0002  # still falling in the second epoch
    assert all(a > b for a, b in pairwise(rates))
