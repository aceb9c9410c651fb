"""Portable bundles: the same answers as the PyTorch model they came from, and refusals on load."""

import hashlib
import json
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from onnx import helper, numpy_helper

from vae.bundle import BundleError, load_bundle
from vae.bundle.catalog import scan
from vae.evaluation import evaluate, iwae_estimate
from vae.models.inference import decode, reconstruct, sample
from vae.portable.runtime import PortableVAE


def rewrite(bundle: Path, name: str, data: bytes) -> None:
    """Replace a file and record its new size and checksum, as a forger with write access would."""
    (bundle / name).write_bytes(data)
    config = json.loads((bundle / "config.json").read_text())
    config["files"][name] = {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    (bundle / "config.json").write_text(json.dumps(config))


def problems(bundle: Path) -> str:
    with pytest.raises(BundleError) as caught:
        load_bundle(bundle)
    return " | ".join(caught.value.problems)


def test_a_portable_bundle_lists_two_graphs_and_no_weights(portable_source):
    config = json.loads((portable_source[1] / "config.json").read_text())
    assert config["kind"] == "portable" and config["model"]["arch"] == "onnx"
    assert {"encoder.onnx", "decoder.onnx", "latents.npz", "test_images.npz"} <= set(config["files"])
    assert "model.safetensors" not in config["files"]
    assert not list(portable_source[1].glob("*.py")) and not list(portable_source[1].glob("*.pt"))


def test_portable_and_native_models_agree_on_every_computation(portable_source, synthetic):
    native, path = portable_source
    bundle = load_bundle(path)
    model = bundle.model
    assert isinstance(model, PortableVAE)
    x = torch.from_numpy(synthetic.test_images).float() / 255
    with torch.no_grad():
        for got, want in zip(model.encode(x), native.encode(x), strict=True):
            assert torch.allclose(got, want, atol=1e-5)
        z = torch.randn(32, 4, generator=torch.Generator().manual_seed(0))
        assert torch.allclose(model.decode_logits(z), native.decode_logits(z), atol=1e-4)
    assert np.abs(decode(model, z.numpy()).astype(int) - decode(native, z.numpy()).astype(int)).max() <= 1
    recon = reconstruct(model, synthetic.test_images[:8])
    assert np.abs(recon.astype(int) - reconstruct(native, synthetic.test_images[:8]).astype(int)).max() <= 1
    ours, theirs = evaluate(model, synthetic.test_images), evaluate(native, synthetic.test_images)
    for key in ("neg_elbo", "recon", "kl"):
        assert ours[key] == pytest.approx(theirs[key], abs=1e-3)
    assert ours["active_units"] == theirs["active_units"]
    iwae = iwae_estimate(model, synthetic.test_images, k=20, n_images=16)["iwae_nll"]
    assert iwae == pytest.approx(iwae_estimate(native, synthetic.test_images, k=20, n_images=16)["iwae_nll"], abs=1e-2)
    assert bundle.config["metrics"]["test_neg_elbo"] == pytest.approx(ours["neg_elbo"], abs=1e-3)


def test_sampling_from_the_prior_runs_on_onnxruntime(portable_bundle):
    pixels = sample(load_bundle(portable_bundle).model, 3, seed=0)
    assert pixels.shape == (3, 28, 28) and pixels.dtype == np.uint8 and pixels.std() > 0


def _with_node(path: Path, node: onnx.NodeProto, output: str) -> bytes:
    """The graph with `node` spliced in front of its output (its output renamed to feed the node)."""
    graph = onnx.load(path)
    inner = graph.graph.output[0].name
    for n in graph.graph.node:
        n.output[:] = [f"{o}_inner" if o == inner else o for o in n.output]
    node.input[0] = f"{inner}_inner"
    graph.graph.node.append(node)
    graph.graph.output[0].name = output
    return graph.SerializeToString()


def test_a_custom_domain_operator_is_refused(portable_bundle):
    node = helper.make_node("Gelu", ["x"], ["logits"], domain="com.example.custom")
    data = _with_node(portable_bundle / "decoder.onnx", node, "logits")
    graph = onnx.load_model_from_string(data)
    graph.opset_import.append(helper.make_opsetid("com.example.custom", 1))
    rewrite(portable_bundle, "decoder.onnx", graph.SerializeToString())
    assert "custom operator domain 'com.example.custom'" in problems(portable_bundle)


def test_a_truncated_graph_is_refused_even_with_a_matching_checksum(portable_bundle):
    data = (portable_bundle / "encoder.onnx").read_bytes()
    rewrite(portable_bundle, "encoder.onnx", data[: len(data) // 2])
    assert "encoder.onnx: not an ONNX model" in problems(portable_bundle)


def test_a_replaced_graph_fails_its_checksum_before_it_is_parsed(portable_bundle):
    (portable_bundle / "decoder.onnx").write_bytes(b"\x08" * (portable_bundle / "decoder.onnx").stat().st_size)
    found = problems(portable_bundle)
    assert "decoder.onnx: checksum does not match" in found and "ONNX" not in found


def test_decoder_outputs_outside_the_declared_range_are_refused(portable_bundle):
    """Logits declared as probabilities: the smoke run on load finds values outside [0, 1]."""
    graph = onnx.load(portable_bundle / "decoder.onnx")
    for node in graph.graph.node:
        node.output[:] = ["probs" if o == "logits" else o for o in node.output]
    graph.graph.output[0].name = "probs"
    rewrite(portable_bundle, "decoder.onnx", graph.SerializeToString())
    config = json.loads((portable_bundle / "config.json").read_text())
    config["model"]["decoder_output"] = "probs"
    (portable_bundle / "config.json").write_text(json.dumps(config))
    assert "outside the [0, 1] its declared 'probs' output must stay in" in problems(portable_bundle)


def test_an_interface_that_disagrees_with_the_config_is_refused(portable_bundle):
    config = json.loads((portable_bundle / "config.json").read_text())
    config["model"]["latent_dim"] = 5
    (portable_bundle / "config.json").write_text(json.dumps(config))
    assert "'mu' has shape ['?', 4], expected ['N', 5]" in problems(portable_bundle)


def _externalise(bundle: Path, location: str) -> None:
    """Move the encoder's largest initializer to an external file at `location` (relative to the bundle)."""
    graph = onnx.load(bundle / "encoder.onnx")
    tensor = max(graph.graph.initializer, key=lambda t: len(t.raw_data))
    raw = numpy_helper.to_array(tensor).tobytes()
    (bundle / location).parent.mkdir(parents=True, exist_ok=True)
    (bundle / location).write_bytes(raw)
    tensor.ClearField("raw_data")
    tensor.data_location = onnx.TensorProto.EXTERNAL
    for key, value in (("location", location), ("offset", "0"), ("length", str(len(raw)))):
        entry = tensor.external_data.add()
        entry.key, entry.value = key, value
    rewrite(bundle, "encoder.onnx", graph.SerializeToString())


def test_external_data_outside_the_bundle_is_refused(portable_bundle):
    _externalise(portable_bundle, "../outside.bin")
    assert (portable_bundle.parent / "outside.bin").is_file()
    assert "points to external data '../outside.bin' outside the model's folder" in problems(portable_bundle)


def test_external_data_inside_the_bundle_loads_only_when_listed_with_a_checksum(portable_bundle):
    _externalise(portable_bundle, "weights.bin")
    assert "external data 'weights.bin' outside the model's folder" in problems(portable_bundle)
    rewrite(portable_bundle, "weights.bin", (portable_bundle / "weights.bin").read_bytes())
    assert isinstance(load_bundle(portable_bundle).model, PortableVAE)


def test_the_catalog_lists_a_truncated_graph_as_invalid_and_opening_checks_the_rest(portable_bundle):
    (entry,) = scan([portable_bundle.parent])
    assert entry.valid and entry.title == "onnx z4 · synthetic"
    data = (portable_bundle / "encoder.onnx").read_bytes()
    (portable_bundle / "encoder.onnx").write_bytes(data[:100])
    (entry,) = scan([portable_bundle.parent])
    assert not entry.valid and any("encoder.onnx" in p and "truncated" in p for p in entry.problems)
    rewrite(portable_bundle, "encoder.onnx", data[:100])  # sizes agree again: listing cannot tell
    assert scan([portable_bundle.parent])[0].valid
    assert "encoder.onnx: not an ONNX model" in problems(portable_bundle)
