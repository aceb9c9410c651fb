"""The Train page's estimate before Start: a few timed optimiser steps, and the run's length from them."""

from __future__ import annotations

import math

from vae.data.datasets import TRAIN_SIZES, make_synthetic
from vae.training.estimate import images_per_second, run_seconds


def test_a_run_lasts_its_epochs_times_its_images_over_the_rate():
    assert run_seconds(60_000, 3, 12_000.0) == 15.0
    assert run_seconds(2_000, 10, 500.0) == 40.0


def test_the_measured_rate_is_finite_and_the_small_mlp_outruns_the_conv_model():
    shape = TRAIN_SIZES["fashion-mnist"][1]
    mlp = images_per_second("mlp", 2, 128, shape)
    conv = images_per_second("conv", 16, 128, shape)
    assert math.isfinite(mlp) and math.isfinite(conv) and mlp > conv > 0


def test_the_sizes_known_before_loading_are_the_datasets_own():
    synthetic = make_synthetic()
    assert TRAIN_SIZES["synthetic"] == (len(synthetic.train_images), tuple(synthetic.train_images.shape[1:]))
