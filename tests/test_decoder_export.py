"""The decoder as ONNX (what the browser runs): it must compute what `VAE.decode` computes.

onnxruntime reads the model here; onnxruntime-web reads the same bytes in Chromium in
tests/browser/test_local_decoder.py.
"""

import numpy as np
import onnx
import onnxruntime
import pytest
import torch
from torch import nn

from vae.models import ConvConfig, MLPConfig, build_model
from vae.models.decoder_export import INPUT, OUTPUT, UnsupportedLayer, export_decoder

CONFIGS = [
    MLPConfig(),
    MLPConfig(input_shape=(3, 32, 32), latent_dim=8, hidden=(256, 128)),
    ConvConfig(latent_dim=6),
    ConvConfig(input_shape=(3, 32, 32), latent_dim=8, channels=(8, 16), hidden=32),
    ConvConfig(latent_dim=4, full_res_channels=8, activation="silu"),
    ConvConfig(latent_dim=4, channels=(8, 16), hidden=32, activation="elu"),
]
IDS = [f"{c.arch}-{c.input_shape[0]}ch-z{c.latent_dim}-{getattr(c, 'activation', 'relu')}" for c in CONFIGS]


def unusual_conv_model() -> nn.Module:
    """Convolutions with other kernels, strides, paddings, dilations and groups than the shipped models'."""
    torch.manual_seed(0)
    model = build_model(ConvConfig(latent_dim=4, input_shape=(3, 28, 28), channels=(4, 8), hidden=8))
    layers = [nn.Linear(4, 6 * 7 * 7), nn.ELU(0.5), nn.Unflatten(1, (6, 7, 7)),
              nn.ConvTranspose2d(6, 6, 3, stride=2, padding=1, groups=2),  # (6, 13, 13)
              nn.SiLU(), nn.ConvTranspose2d(6, 4, 4, stride=2, padding=0, output_padding=1, dilation=1),  # (4, 29, 29)
              nn.ReLU(), nn.Conv2d(4, 4, 3, padding=2, dilation=2),  # (4, 29, 29)
              nn.Conv2d(4, 3, 2, stride=1, bias=False)]  # (3, 28, 28)
    model.decoder_layers = lambda: layers
    model.decode_logits = lambda z: nn.Sequential(*layers)(z)
    return model


def run_onnx(onnx_bytes: bytes, z: np.ndarray) -> np.ndarray:
    session = onnxruntime.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
    return session.run([OUTPUT], {INPUT: z})[0]


@pytest.mark.parametrize("config", CONFIGS, ids=IDS)
def test_decoder_layers_in_order_are_the_decoder(config):
    torch.manual_seed(0)
    model = build_model(config).eval()
    z = torch.randn(3, config.latent_dim)
    x = z
    for layer in model.decoder_layers():
        x = layer(x)
    torch.testing.assert_close(x, model.decode_logits(z))


@pytest.mark.parametrize("make_model", [*(lambda c=c: build_model(c) for c in CONFIGS), unusual_conv_model],
                         ids=[*IDS, "unusual-conv"])
def test_onnx_computes_the_decode(make_model):
    torch.manual_seed(1)
    model = make_model().eval()
    z = torch.randn(3, model.latent_dim)  # a batch: the batch size is symbolic
    expected = model.decode(z).detach().numpy()
    exact = export_decoder(model, "float32")
    onnx.checker.check_model(onnx.load_from_string(exact), full_check=True)
    np.testing.assert_allclose(run_onnx(exact, z.numpy()), expected, atol=1e-5, rtol=1e-4)
    # float16 weights: what the browser is sent. A display level is 1/255.
    assert np.abs(run_onnx(export_decoder(model), z.numpy()) - expected).max() < 1 / 255


def test_float16_weights_halve_the_model():
    model = build_model(ConvConfig(latent_dim=16, full_res_channels=32))
    parameters = sum(p.numel() for layer in model.decoder_layers() for p in layer.parameters())
    assert 4 * parameters < len(export_decoder(model, "float32")) < 4 * parameters + 10_000
    assert 2 * parameters < len(export_decoder(model)) < 2 * parameters + 10_000


def test_only_standard_operators():
    model = onnx.load_from_string(export_decoder(build_model(ConvConfig(latent_dim=4, activation="silu"))))
    assert {node.domain for node in model.graph.node} == {""}
    assert [opset.version for opset in model.opset_import] == [17]


@pytest.mark.parametrize(("layers", "reason"), [
    ([nn.Linear(2, 784), nn.BatchNorm1d(784), nn.Unflatten(1, (1, 28, 28))], "BatchNorm1d"),
    ([nn.Linear(2, 784), nn.Unflatten(1, (1, 28, 28)), nn.Conv2d(1, 1, 3, padding=1, padding_mode="reflect")],
     "padding_mode='reflect'"),
    ([nn.Linear(2, 784), nn.Unflatten(1, (1, 28, 28)), nn.Linear(28, 28)], "image-shaped"),
    ([nn.Linear(2, 100), nn.Unflatten(1, (1, 10, 10))], "not the image shape"),
])
def test_a_layer_the_export_cannot_express_is_refused(layers, reason):
    model = build_model(MLPConfig(latent_dim=2, hidden=(8,)))
    model.decoder_layers = lambda: layers
    with pytest.raises(UnsupportedLayer, match=reason):
        export_decoder(model)
