"""The browser's decoder (ui/components/local_decoder.js) against PyTorch, layer kinds and shapes varied."""

from __future__ import annotations

import base64

import numpy as np
import pytest
import torch
from torch import nn

from harness.browser import ROOT
from tests.test_decoder_export import CONFIGS
from vae.models import ConvConfig, build_model
from vae.models.decoder_export import export_decoder

SCRIPT = (ROOT / "ui" / "components" / "local_decoder.js").read_text()


@pytest.fixture(scope="module")
def page(browser):
    context = browser.new_context()
    page = context.new_page()
    page.add_script_tag(content=SCRIPT)
    yield page
    context.close()


def unusual_conv_model() -> nn.Module:
    """Transposed convolutions with other kernels, strides and paddings than the shipped models'."""
    torch.manual_seed(0)
    model = build_model(ConvConfig(latent_dim=4, input_shape=(3, 28, 28), channels=(4, 8), hidden=8))
    layers = [nn.Linear(4, 5 * 7 * 7), nn.ELU(0.5), nn.Unflatten(1, (5, 7, 7)),
              nn.ConvTranspose2d(5, 6, 3, stride=2, padding=1),  # (6, 13, 13)
              nn.SiLU(), nn.ConvTranspose2d(6, 4, 4, stride=2, padding=0),  # (4, 28, 28)
              nn.ReLU(), nn.Conv2d(4, 3, 5, padding=2, bias=False)]  # (3, 28, 28)
    model.decoder_layers = lambda: layers
    model.decode = lambda z: torch.sigmoid(nn.Sequential(*layers)(z))
    return model


def round_to_float16(model: nn.Module) -> None:
    """Give the decoder the weights the browser gets: float32 values rounded to float16."""
    with torch.no_grad():
        for layer in model.decoder_layers():
            for parameter in layer.parameters():
                parameter.copy_(parameter.half().float())


def browser_decode(page, program: dict, codes: np.ndarray) -> np.ndarray:
    return np.array(page.evaluate("([program, codes]) => { const decode = buildDecoder(program);"
                                  " return codes.map(code => Array.from(decode(code))); }",
                                  [program, np.asarray(codes).tolist()]), dtype=np.float32)


@pytest.mark.parametrize("dtype", ["float32", "float16"])
@pytest.mark.parametrize("model", [*(lambda c=c: build_model(c) for c in CONFIGS), unusual_conv_model],
                         ids=[*(f"{c.arch}-{c.input_shape[0]}ch-z{c.latent_dim}-{getattr(c, 'activation', 'relu')}"
                                for c in CONFIGS), "unusual-conv"])
def test_browser_decoder_matches_pytorch(page, model, dtype):
    torch.manual_seed(1)
    model = model().eval()
    program = export_decoder(model).to_json(dtype)
    if dtype == "float16":
        round_to_float16(model)
    z = torch.randn(model.latent_dim)
    expected = model.decode(z[None])[0].detach().numpy()
    got = browser_decode(page, program, z[None].numpy())[0]
    assert got.shape == (expected.size,)
    np.testing.assert_allclose(got.reshape(expected.shape), expected, atol=1e-5)


def test_browser_reads_every_float16_value_as_numpy_does(page):
    halves = np.arange(2**16, dtype="<u2")
    encoded = base64.b64encode(halves.tobytes()).decode()
    got = np.array(page.evaluate("(b64) => Array.from(readArray(b64, 'float16'))", encoded), dtype=np.float32)
    expected = halves.view("<f2").astype(np.float32)
    np.testing.assert_array_equal(got, expected)  # NaN equal to NaN; infinities, subnormals and all
    numbers = ~np.isnan(expected)
    assert np.array_equal(np.signbit(got[numbers]), np.signbit(expected[numbers]))  # -0 too


def test_browser_decodes_the_shipped_model_from_the_payload_it_is_sent(page):
    from ui.live_decoder import local_payload
    from vae.bundle import load_bundle

    bundle = load_bundle(ROOT / "checkpoints" / "fashion-mnist-conv-z16")
    program = local_payload(bundle, "pca", (0.0, 1.0, 0.0, 1.0))["decoder"]  # bounds place, not decode
    assert program["dtype"] == "float16"
    codes = np.concatenate([bundle.mu[:2], np.random.default_rng(0).standard_normal((2, bundle.latent_dim))])
    got = browser_decode(page, program, codes).reshape(len(codes), *bundle.images.shape[1:])
    with torch.no_grad():
        exact = bundle.model.decode(torch.as_tensor(codes, dtype=torch.float32)).numpy()
        round_to_float16(bundle.model)
        rounded = bundle.model.decode(torch.as_tensor(codes, dtype=torch.float32)).numpy()
    np.testing.assert_allclose(got, rounded, atol=1e-4)  # the same arithmetic on the same weights
    assert np.abs(got - exact).max() < 2 / 255  # and float16 weights barely move a grey level


@pytest.mark.parametrize("projection", ["umap", "pca"])
def test_browser_places_codes_where_the_server_does(page, projection):
    from ui import figures
    from ui.live_decoder import local_payload
    from vae.bundle import load_bundle
    from vae.latent.placement import ForwardProjector

    bundle = load_bundle(ROOT / "checkpoints" / "fashion-mnist-conv-z16")
    arrays = bundle.projections[projection]
    _, bounds = figures.density_raster(arrays["xy"])
    payload = local_payload(bundle, projection, tuple(bounds))
    server = ForwardProjector(bundle.mu, arrays["xy"], arrays.get("components"), arrays.get("mean"))
    codes = np.random.default_rng(0).standard_normal((20, bundle.latent_dim))
    codes[:10] = bundle.mu[:10] + 0.1 * codes[:10]  # near data, where neighbours are close
    placed = page.evaluate("([payload, codes]) => { const local = buildLocalDecoder(payload);"
                           " return codes.map(code => local.place(code)); }", [payload, codes.tolist()])
    expected = [figures.marker_position(bounds, server(code)) for code in codes]
    # float16 codes in the browser: a neighbour may change places with the next one, rarely.
    assert np.median(np.abs(np.array(placed) - np.array(expected))) < 0.1
    assert np.abs(np.array(placed) - np.array(expected)).max() < 2  # percent of the picture
