"""Model registry, config round trips and the shared model contract."""

import json

import numpy as np
import pytest
import torch

from vae.models import PRESETS, REGISTRY, ConvConfig, MLPConfig, build_model, config_from_dict, inference


@pytest.mark.parametrize("config", [
    MLPConfig(),
    MLPConfig(input_shape=(3, 32, 32), latent_dim=8, hidden=(256, 128)),
    ConvConfig(),
    ConvConfig(input_shape=(3, 32, 32), latent_dim=32),
    ConvConfig(latent_dim=4, full_res_channels=8),
    ConvConfig(latent_dim=4, full_res_channels=8, activation="silu"),
])
def test_every_model_honours_the_contract(config):
    model = build_model(config).eval()
    x = torch.rand(5, *config.input_shape)
    mu, logvar = model.encode(x)
    assert mu.shape == logvar.shape == (5, config.latent_dim)
    images = model.decode(torch.randn(5, config.latent_dim))
    assert images.shape == x.shape and images.min() >= 0 and images.max() <= 1
    out = model(x)
    assert out.logits.shape == x.shape and out.z.shape == mu.shape


@pytest.mark.parametrize("arch", sorted(REGISTRY))
def test_config_survives_json_round_trip(arch):
    config = REGISTRY[arch][0](latent_dim=7)
    restored = config_from_dict(json.loads(json.dumps(config.to_dict())))
    assert restored == config and restored.arch == arch


def test_classic_preset_is_exactly_784_400_20():
    model = build_model(config_from_dict(dict(PRESETS["classic"])))
    shapes = [tuple(p.shape) for p in model.parameters() if p.ndim == 2]
    assert shapes == [(400, 784), (40, 400), (400, 20), (784, 400)]


def test_sample_temperature_zero_decodes_the_prior_mean():
    model = build_model(MLPConfig(latent_dim=3, hidden=(16,))).eval()
    samples = inference.sample(model, 4, temperature=0.0)
    assert np.array_equal(samples, np.repeat(inference.decode(model, np.zeros(3)), 4, axis=0))


def test_sample_is_reproducible_by_seed():
    model = build_model(MLPConfig(latent_dim=3, hidden=(16,))).eval()
    a, b = inference.sample(model, 3, seed=1), inference.sample(model, 3, seed=1)
    assert np.array_equal(a, b) and not np.array_equal(a, inference.sample(model, 3, seed=2))


def test_reconstruct_decodes_the_posterior_mean():
    model = build_model(MLPConfig(latent_dim=3, hidden=(16,))).eval()
    images = np.random.default_rng(0).integers(0, 256, (5, 1, 28, 28), dtype=np.uint8)
    mu, logvar = inference.encode(model, images)
    assert mu.shape == logvar.shape == (5, 3)
    assert np.array_equal(inference.reconstruct(model, images, 2), inference.decode(model, mu, 2))


@pytest.mark.parametrize("data, message", [
    ({"arch": "transformer"}, "unknown architecture"),
    ({"arch": "mlp", "latent_dim": 0}, "latent_dim"),
    ({"arch": "conv", "input_shape": [1, 30, 30]}, "divisible by 4"),
    ({"arch": "mlp", "input_shape": [2, 28, 28]}, "input_shape"),
    ({"arch": "mlp", "dropout": 0.5}, "unknown mlp config keys"),
    ({"arch": "conv", "activation": "tanh"}, "activation must be one of"),
])
def test_bad_configs_are_refused_with_a_reason(data, message):
    with pytest.raises(ValueError, match=message):
        config_from_dict(data)


def test_the_activation_is_used_and_old_configs_keep_relu():
    assert isinstance(build_model(ConvConfig(activation="silu")).encoder[1], torch.nn.SiLU)
    old = {"arch": "conv", "input_shape": [1, 28, 28], "latent_dim": 2, "channels": [32, 64], "hidden": 256,
           "full_res_channels": 0}  # a bundle written before the field existed
    assert isinstance(build_model(config_from_dict(old)).encoder[1], torch.nn.ReLU)
