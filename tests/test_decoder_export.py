"""The decoder program the browser runs: it must compute what `VAE.decode` computes.

`run_program` below is an independent reading of the format with torch.nn.functional; the
JavaScript reading of it is checked against the server's decode in tests/browser/test_explorer.py.
"""

import base64

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

from vae.models import ConvConfig, MLPConfig, build_model
from vae.models.decoder_export import UnsupportedLayer, export_decoder

CONFIGS = [
    MLPConfig(),
    MLPConfig(input_shape=(3, 32, 32), latent_dim=8, hidden=(256, 128)),
    ConvConfig(latent_dim=6),
    ConvConfig(input_shape=(3, 32, 32), latent_dim=8, channels=(8, 16), hidden=32),
    ConvConfig(latent_dim=4, full_res_channels=8, activation="silu"),
    ConvConfig(latent_dim=4, channels=(8, 16), hidden=32, activation="elu"),
]


def run_program(program: dict, z: torch.Tensor) -> torch.Tensor:
    """Apply a `DecoderProgram.to_json()` result to one code (D,) -> (C, H, W)."""
    dtype = np.dtype(program["dtype"]).newbyteorder("<")
    weights = torch.from_numpy(np.frombuffer(base64.b64decode(program["weights"]), dtype).astype(np.float32))

    def param(op: dict, key: str, shape: list[int]) -> torch.Tensor | None:
        start = op[key]
        return None if start < 0 else weights[start:start + int(np.prod(shape))].reshape(shape)

    x = z[None]
    for op in program["ops"]:
        name, out_shape = op["op"], op["out_shape"]
        if name == "linear":
            fan_in, fan_out = op["in_shape"][0], out_shape[0]
            x = F.linear(x, param(op, "weight", [fan_out, fan_in]), param(op, "bias", [fan_out]))
        elif name in ("conv2d", "conv_transpose2d"):
            c_in, c_out, (kh, kw) = op["in_shape"][0], out_shape[0], op["kernel"]
            if name == "conv2d":
                weight = param(op, "weight", [c_out, c_in, kh, kw])
                x = F.conv2d(x, weight, param(op, "bias", [c_out]), op["stride"], op["padding"])
            else:
                weight = param(op, "weight", [c_in, c_out, kh, kw])
                x = F.conv_transpose2d(x, weight, param(op, "bias", [c_out]), op["stride"], op["padding"])
        elif name == "unflatten":
            x = x.reshape(1, *out_shape)
        else:
            x = {"relu": F.relu, "silu": F.silu, "sigmoid": torch.sigmoid,
                 "elu": lambda t, op=op: F.elu(t, op["alpha"])}[name](x)
        assert list(x.shape[1:]) == out_shape, op
    return x[0]


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: f"{c.arch}-{c.input_shape[0]}ch-z{c.latent_dim}")
def test_decoder_layers_in_order_are_the_decoder(config):
    torch.manual_seed(0)
    model = build_model(config).eval()
    z = torch.randn(3, config.latent_dim)
    x = z
    for layer in model.decoder_layers():
        x = layer(x)
    torch.testing.assert_close(x, model.decode_logits(z))


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: f"{c.arch}-{c.input_shape[0]}ch-z{c.latent_dim}")
def test_program_computes_the_decode(config):
    torch.manual_seed(0)
    model = build_model(config).eval()
    program = export_decoder(model)
    assert program.weights.size == sum(p.numel() for p in model.decoder_layers() for p in p.parameters())
    z = torch.randn(config.latent_dim)
    expected = model.decode(z[None])[0].detach()
    torch.testing.assert_close(run_program(program.to_json("float32"), z), expected, atol=1e-5, rtol=1e-4)
    # float16 weights: what the browser receives. A display level is 1/255.
    assert (run_program(program.to_json("float16"), z) - expected).abs().max() < 1 / 255


def test_program_identifies_its_weights():
    torch.manual_seed(0)
    first = build_model(MLPConfig(latent_dim=2, hidden=(8,)))
    second = build_model(MLPConfig(latent_dim=2, hidden=(8,)))
    assert export_decoder(first).to_json()["id"] == export_decoder(first).to_json()["id"]
    assert export_decoder(first).to_json()["id"] != export_decoder(second).to_json()["id"]


def test_a_layer_the_browser_cannot_run_is_refused():
    model = build_model(MLPConfig(latent_dim=2, hidden=(8,)))
    model.decoder_layers = lambda: [nn.Linear(2, 784), nn.BatchNorm1d(784), nn.Unflatten(1, (1, 28, 28))]
    with pytest.raises(UnsupportedLayer, match="BatchNorm1d"):
        export_decoder(model)
