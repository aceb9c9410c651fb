"""The browser's decoder (ui/components/local_decoder.js on onnxruntime-web) against PyTorch, offline.

The page comes from the app's own Streamlit server, which serves onnxruntime-web from static/ as
the explorer loads it; every request that would leave 127.0.0.1 is refused and recorded.
"""

from __future__ import annotations

import base64

import numpy as np
import pytest
import torch

from harness.browser import ROOT
from pages.explore.live_decoder import ORT_DIR, ORT_MODULE, browser_decoder
from tests.test_decoder_export import CONFIGS, IDS, unusual_conv_model
from vae.models import ConvConfig, build_model
from vae.models.decoder_export import export_decoder
from vae.share.components import component_js

from .conftest import needs_onnxruntime_web

SCRIPT = component_js(("arrays.js", "local_decoder.js"))
DECODE = """async ([decoder, ortUrl, codes]) => {
  const decode = await buildDecoder(decoder, ortUrl);
  const images = [];
  for (const code of codes) images.push(Array.from(await decode(code)));
  return images;
}"""

pytestmark = needs_onnxruntime_web


@pytest.fixture(scope="module")
def page(browser, app_url):
    """A page of the app's origin that holds the decoder's script and nothing else."""
    context = browser.new_context()
    requests = {"local": [], "outside": []}

    def route(route):
        local = route.request.url.startswith("http://127.0.0.1:")
        requests["local" if local else "outside"].append(route.request.url)
        route.continue_() if local else route.abort()

    context.route("**/*", route)
    page = context.new_page()
    page.goto(f"{app_url}/app/static/{ORT_DIR.name}/LICENSE.txt")
    page.add_script_tag(content=SCRIPT)
    page.requests = requests
    page.ort_url = f"{app_url}/app/static/{ORT_DIR.name}/{ORT_MODULE}"
    yield page
    context.close()


def decode_in_browser(page, decoder: dict, codes: torch.Tensor) -> np.ndarray:
    images = page.evaluate(DECODE, [decoder, page.ort_url, codes.tolist()])
    return np.array(images, dtype=np.float32).reshape(len(codes), *decoder["image_shape"])


def round_to_float16(model: torch.nn.Module) -> None:
    """Give the decoder the weights the browser gets: float32 values rounded to float16."""
    with torch.no_grad():
        for layer in model.decoder_layers():
            for parameter in layer.parameters():
                parameter.copy_(parameter.half().float())


@pytest.mark.parametrize("dtype", ["float32", "float16"])
@pytest.mark.parametrize("make_model", [*(lambda c=c: build_model(c) for c in CONFIGS), unusual_conv_model],
                         ids=[*IDS, "unusual-conv"])
def test_browser_decoder_matches_pytorch(page, make_model, dtype):
    torch.manual_seed(1)
    model = make_model().eval()
    codes = torch.randn(2, model.latent_dim)
    decoder = browser_decoder(export_decoder(model, dtype), model.latent_dim, model.config.input_shape)
    if dtype == "float16":
        round_to_float16(model)
    expected = model.decode(codes).detach().numpy()
    np.testing.assert_allclose(decode_in_browser(page, decoder, codes), expected, atol=1e-5)
    assert not page.requests["outside"]


def test_browser_reads_every_float16_value_as_numpy_does(page):
    halves = np.arange(2**16, dtype="<u2")
    encoded = base64.b64encode(halves.tobytes()).decode()
    got = np.array(page.evaluate("(b64) => Array.from(readArray(b64, 'float16'))", encoded), dtype=np.float32)
    expected = halves.view("<f2").astype(np.float32)
    np.testing.assert_array_equal(got, expected)  # NaN equal to NaN; infinities, subnormals and all
    numbers = ~np.isnan(expected)
    assert np.array_equal(np.signbit(got[numbers]), np.signbit(expected[numbers]))  # -0 too


def test_browser_decodes_the_shipped_model_from_the_payload_it_is_sent(page):
    from pages.explore.live_decoder import local_payload
    from vae.bundle import load_bundle

    bundle = load_bundle(ROOT / "checkpoints" / "fashion-mnist-conv-z16")
    decoder = local_payload(bundle, "pca", (0.0, 1.0, 0.0, 1.0))["decoder"]  # bounds place, not decode
    codes = torch.as_tensor(np.concatenate([bundle.mu[:2], np.random.default_rng(0).standard_normal(
        (2, bundle.latent_dim))]), dtype=torch.float32)
    got = decode_in_browser(page, decoder, codes)
    with torch.no_grad():
        exact = bundle.model.decode(codes).numpy()
        round_to_float16(bundle.model)
        rounded = bundle.model.decode(codes).numpy()
    np.testing.assert_allclose(got, rounded, atol=1e-4)  # the same arithmetic on the same weights
    assert np.abs(got - exact).max() < 2 / 255  # and float16 weights barely move a grey level


def test_a_torch_exported_decoder_giving_logits(page):
    """A decoder made elsewhere (as a portable bundle's decoder.onnx is): torch.onnx.export of the logits."""
    torch.manual_seed(3)
    model = build_model(ConvConfig(latent_dim=5, channels=(4, 8), hidden=16, activation="silu")).eval()

    class Logits(torch.nn.Module):
        def forward(self, z: torch.Tensor) -> torch.Tensor:
            return model.decode_logits(z)

    exported = torch.onnx.export(Logits().eval(), (torch.zeros(1, 5),), input_names=["z"], output_names=["logits"],
                                 dynamo=True, verbose=False)
    decoder = browser_decoder(exported.model_proto.SerializeToString(), 5, (1, 28, 28), output="logits")
    codes = torch.randn(2, 5)
    np.testing.assert_allclose(decode_in_browser(page, decoder, codes), model.decode(codes).detach().numpy(),
                               atol=1e-5)


def test_a_decoder_breaking_the_contract_is_refused(page):
    model = build_model(ConvConfig(latent_dim=3, channels=(4, 8), hidden=8)).eval()
    decoder = browser_decoder(export_decoder(model), 3, (1, 32, 32))  # it makes 28x28 images
    with pytest.raises(Exception, match="not 1,32,32"):
        decode_in_browser(page, decoder, torch.zeros(1, 3))


def test_onnxruntime_web_came_from_this_server_and_nothing_left_it(page):
    model = build_model(ConvConfig(latent_dim=2, channels=(4, 8), hidden=8)).eval()
    decode_in_browser(page, browser_decoder(export_decoder(model), 2, (1, 28, 28)), torch.zeros(1, 2))
    assert any(url.endswith("/ort-wasm-simd-threaded.wasm") for url in page.requests["local"])
    assert not page.requests["outside"]


@pytest.mark.parametrize("projection", ["umap", "pca"])
def test_browser_places_codes_where_the_server_does(page, projection):
    from pages.explore.live_decoder import local_payload
    from ui import figures
    from vae.bundle import load_bundle
    from vae.latent.placement import ForwardProjector

    bundle = load_bundle(ROOT / "checkpoints" / "fashion-mnist-conv-z16")
    arrays = bundle.projections[projection]
    _, bounds = figures.density_raster(arrays["xy"])
    payload = local_payload(bundle, projection, tuple(bounds))
    server = ForwardProjector(bundle.mu, arrays["xy"], arrays.get("components"), arrays.get("mean"))
    codes = np.random.default_rng(0).standard_normal((20, bundle.latent_dim))
    codes[:10] = bundle.mu[:10] + 0.1 * codes[:10]  # near data, where neighbours are close
    placed = page.evaluate("async ([payload, ortUrl, codes]) => {"
                           " const local = await buildLocalDecoder(payload, ortUrl);"
                           " return codes.map(code => local.place(code)); }", [payload, page.ort_url, codes.tolist()])
    expected = [figures.marker_position(bounds, server(code)) for code in codes]
    # float16 codes in the browser: a neighbour may change places with the next one, rarely.
    assert np.median(np.abs(np.array(placed) - np.array(expected))) < 0.1
    assert np.abs(np.array(placed) - np.array(expected)).max() < 2  # percent of the picture
