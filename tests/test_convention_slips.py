"""Conventions a one-line slip turns upside down while every other test still passes: which way a
rotation goes, which picture row is the top, what an imported model's outputs hold, what a prior
hole is judged against. Inputs are lopsided and expected values come from the inputs themselves."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import torch

from .conftest import ROOT

# ---------------------------------------------------------------- Procrustes


def test_procrustes_turns_b_back_the_way_it_was_turned():
    from vae.diagnostics.compare import procrustes_align

    target = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0]])  # an L: its arms tell every turn apart
    quarter_turn = np.array([[0.0, 0.0], [0.0, 1.0], [-2.0, 0.0]])  # target turned 90° anticlockwise
    assert np.allclose(procrustes_align(quarter_turn, target), target, atol=1e-9)
    rng = np.random.default_rng(2)
    cloud = rng.standard_normal((100, 2)) * [3.0, 0.5]
    angle = np.radians(40)
    turned = 2.0 * cloud @ np.array([[np.cos(angle), np.sin(angle)], [-np.sin(angle), np.cos(angle)]]) + [5.0, 1.0]
    assert np.allclose(procrustes_align(turned, cloud), cloud, atol=1e-9)


# ---------------------------------------------------------------- the density picture


def test_the_density_picture_shows_each_point_where_it_lies_on_the_map():
    from pages.explore.map_detail import Layers, picture_image
    from vae.latent.density import class_density

    view = (-2.0, 6.0, -1.0, 3.0)  # 8 x 4 map units on 8 x 4 pixels
    xy = np.array([[-1.5, 2.5], [-1.4, 2.6], [-1.6, 2.4], [5.5, -0.5]])  # three top left, one bottom right
    labels = np.array([0, 0, 0, 1])
    rgba = class_density(xy, labels, np.array([[255, 0, 0], [0, 0, 255]]), view, 8, 4)
    image = picture_image(Layers("k", view, np.arange(4), "data:"))
    assert image["yanchor"] == "top" and image["xanchor"] == "left" and image["sizing"] == "stretch"

    def shown_at(x: float, y: float) -> np.ndarray:
        """The RGBA Plotly draws at map position (x, y): the picture's top edge at image['y']."""
        column = int((x - image["x"]) / image["sizex"] * rgba.shape[1])
        row = int((image["y"] - y) / image["sizey"] * rgba.shape[0])
        return rgba[row, column]

    assert tuple(shown_at(-1.5, 2.5)[:3]) == (255, 0, 0) and shown_at(-1.5, 2.5)[3] == 255
    assert tuple(shown_at(5.5, -0.5)[:3]) == (0, 0, 255) and shown_at(5.5, -0.5)[3] > 0
    assert shown_at(-1.5, -0.5)[3] == 0 and shown_at(5.5, 2.5)[3] == 0  # nothing where no point is
    assert np.count_nonzero(rgba[..., 3]) == 2


# ---------------------------------------------------------------- an imported model's outputs


def _example_vae_class():
    """The README's worked example (examples/pytorch_vae.py): a plain PyTorch VAE outside VAE Lab."""
    spec = importlib.util.spec_from_file_location("readme_example_vae", ROOT / "examples" / "pytorch_vae.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.VAE


def test_the_torch_importer_turns_a_log_std_into_the_logvar_the_map_uses(synthetic):
    """The example VAE changed to return (mu, log σ), as `vae-lab import torch --posterior log_std` wraps it."""
    from vae.portable.export import EncoderAdapter
    from vae.portable.spec import ImportSpec

    class LogStdVAE(_example_vae_class()):
        def encode(self, x):
            mu, logvar = super().encode(x)
            return mu, logvar / 2

    torch.manual_seed(5)
    module = LogStdVAE(latent_dim=3).eval()
    with torch.no_grad():
        module.fc22.bias.fill_(-3.0)  # log σ² about -3, far from its half: the two cannot pass for each other
    spec = ImportSpec(input_shape=(1, 28, 28), input_layout="flat", posterior="log_std", decoder_output="probs")
    x = torch.from_numpy(synthetic.test_images[:16]).float() / 255
    with torch.no_grad():
        hidden = torch.relu(module.fc1(x.flatten(1)))
        want_mu, want_logvar = module.fc21(hidden), module.fc22(hidden)  # the example's own (mu, logvar)
        mu, logvar = EncoderAdapter(module, module.encode, spec)(x)
    np.testing.assert_allclose(mu.numpy(), want_mu.numpy(), atol=1e-5)
    np.testing.assert_allclose(logvar.numpy(), want_logvar.numpy(), atol=1e-5)
    assert float(logvar.mean()) == pytest.approx(-3.0, abs=0.5)


def _probs_decoder_model(weights: np.ndarray, bias: np.ndarray):
    """A portable model whose decoder graph outputs sigmoid(z @ weights + bias) as 'probs', as a Keras or
    PyTorch decoder ending in a sigmoid exports; its encoder is a plain linear map."""
    from onnx import TensorProto, helper, numpy_helper

    from vae.portable.runtime import PortableVAE
    from vae.portable.spec import PortableConfig

    latent = weights.shape[0]
    rng = np.random.default_rng(1)

    def model(nodes, inputs, outputs, tensors):
        graph = helper.make_graph(
            nodes, "g", [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in inputs],
            [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in outputs],
            [numpy_helper.from_array(v, k) for k, v in tensors.items()])
        return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=10)

    encoder = model([helper.make_node("Flatten", ["images"], ["flat"]),
                     helper.make_node("MatMul", ["flat", "wm"], ["mu"]),
                     helper.make_node("MatMul", ["flat", "wv"], ["logvar"])],
                    [("images", ["n", 1, 28, 28])], [("mu", ["n", latent]), ("logvar", ["n", latent])],
                    {"wm": rng.normal(0, 0.05, (784, latent)).astype(np.float32),
                     "wv": rng.normal(0, 0.05, (784, latent)).astype(np.float32)})
    decoder = model([helper.make_node("MatMul", ["z", "w"], ["zw"]), helper.make_node("Add", ["zw", "b"], ["o"]),
                     helper.make_node("Sigmoid", ["o"], ["p"]), helper.make_node("Reshape", ["p", "shape"], ["probs"])],
                    [("z", ["n", latent])], [("probs", ["n", 1, 28, 28])],
                    {"w": weights.astype(np.float32), "b": bias.astype(np.float32),
                     "shape": np.array([-1, 1, 28, 28], np.int64)})
    config = PortableConfig(input_shape=(1, 28, 28), latent_dim=latent, decoder_output="probs")
    return PortableVAE(config, encoder, decoder)


def test_a_probs_decoder_gives_the_logits_it_took_the_sigmoid_of():
    rng = np.random.default_rng(0)
    weights, bias = rng.normal(0, 1.0, (3, 784)), rng.normal(0.5, 1.0, 784)
    model = _probs_decoder_model(weights, bias)
    z = np.array([[0.5, -1.0, 2.0], [-2.0, 0.0, 0.3]])
    want = z @ weights + bias  # the decoder's values before its sigmoid: what a Bernoulli likelihood takes
    logits = model.decode_logits(torch.tensor(z, dtype=torch.float32))
    assert logits.shape == (2, 1, 28, 28) and want.min() < -1 and want.max() > 1
    np.testing.assert_allclose(logits.reshape(2, -1).numpy(), want, atol=1e-3)
    probs = model.decode(torch.tensor(z, dtype=torch.float32)).reshape(2, -1).numpy()
    np.testing.assert_allclose(probs, 1 / (1 + np.exp(-want)), atol=1e-6)


# ---------------------------------------------------------------- prior holes


def test_codes_like_the_data_are_not_holes_even_when_each_posterior_is_narrow():
    """A new image's code lands between the narrow posteriors of the others: judged against q's own
    samples each without its own image (leave one out), it is as typical as they are."""
    from vae.diagnostics.prior import HOLE_QUANTILE, hole_reference, hole_scores

    rng = np.random.default_rng(0)
    spread, centre = np.array([1.0, 0.6]), np.array([0.3, -0.2])
    mu = rng.standard_normal((400, 2)) * spread + centre
    logvar = np.full_like(mu, np.log(0.02**2))
    new_codes = rng.standard_normal((400, 2)) * spread + centre  # drawn as the data were
    scores = hole_scores(new_codes, mu, logvar, hole_reference(mu, logvar))
    assert (scores < HOLE_QUANTILE).mean() < 0.03
    assert 0.35 < np.median(scores) < 0.65
    far = hole_scores(np.array([[4.0, 3.0]]), mu, logvar, hole_reference(mu, logvar))
    assert far[0] < HOLE_QUANTILE


def test_the_map_marks_in_red_the_prior_samples_in_holes(monkeypatch):
    from pages.explore import prior_holes

    scores = np.array([0.5, 0.001, 0.9, 0.0, 0.2], np.float32)  # samples 1 and 3 below HOLE_QUANTILE
    xy = np.array([[0.0, 1.0], [2.0, 3.0], [4.0, 5.0], [6.0, 7.0], [8.0, 9.0]])
    monkeypatch.setattr(prior_holes, "_samples", lambda bundle, projection=None: {"scores": scores, "xy": xy})
    traces = {t.name: t for t in prior_holes.overlay(None, "pca")}
    holes, near = traces["prior samples in holes"], traces["prior samples"]
    assert list(holes.x) == [2.0, 6.0] and list(holes.y) == [3.0, 7.0]
    assert holes.marker.color == prior_holes.IN_HOLE and holes.marker.size > near.marker.size
    assert list(near.x) == [0.0, 4.0, 8.0] and list(holes.text) == ["0.1", "0.0"]
