"""The import routes end to end through the command line: an ONNX pair from `onnx.helper`, a PyTorch
module with its own conventions, a pythae model trained here; and every bad input refused in one line."""

import json
import pickle
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper
from safetensors.torch import save_file

from vae.bundle import load_bundle
from vae.bundle.catalog import scan
from vae.cli.main import main as vae_lab
from vae.portable.runtime import PortableVAE

LATENT = 3


def main(args: list[str]) -> int:
    """`vae-lab import ARGS`."""
    return vae_lab(["import", *args])


@pytest.fixture()
def images_npz(tmp_path, synthetic) -> Path:
    """The synthetic test set as a user would hand it over: (N, H, W) uint8, labels, class names."""
    path = tmp_path / "images.npz"
    np.savez(path, images=synthetic.test_images[:, 0], labels=synthetic.test_labels,
             class_names=np.array(synthetic.class_names))
    return path


def mlp_pair(folder: Path, probs: bool = True, domain: str = "") -> dict[str, np.ndarray]:
    """An encoder/decoder pair written with onnx.helper, as another framework would export it:
    flat input in [-1, 1], one output holding mu and log-std side by side; decoder of flat probabilities."""
    rng = np.random.default_rng(0)
    w = {"w1": rng.normal(0, 0.05, (784, 16)), "b1": rng.normal(0, 0.1, 16), "w2": rng.normal(0, 0.3, (16, 2 * LATENT)),
         "b2": rng.normal(0, 0.1, 2 * LATENT), "w3": rng.normal(0, 0.5, (LATENT, 16)), "b3": rng.normal(0, 0.1, 16),
         "w4": rng.normal(0, 0.3, (16, 784)), "b4": rng.normal(0, 0.1, 784)}
    w = {k: v.astype(np.float32) for k, v in w.items()}

    def graph(nodes, names, x, y, x_width, y_width):
        return helper.make_model(helper.make_graph(
            nodes, "g", [helper.make_tensor_value_info(x, TensorProto.FLOAT, ["batch", x_width])],
            [helper.make_tensor_value_info(y, TensorProto.FLOAT, ["batch", y_width])],
            [numpy_helper.from_array(w[n], n) for n in names]), opset_imports=[helper.make_opsetid("", 17)],
            ir_version=10)  # what exporters of opset 17 write (this onnx would write a newer one)

    encoder = graph([helper.make_node("Gemm", ["x", "w1", "b1"], ["h"]),
                     helper.make_node("Relu", ["h"], ["r"], domain=domain),
                     helper.make_node("Gemm", ["r", "w2", "b2"], ["params"])],
                    ["w1", "b1", "w2", "b2"], "x", "params", 784, 2 * LATENT)
    if domain:
        encoder.opset_import.append(helper.make_opsetid(domain, 1))
    last = [helper.make_node("Sigmoid", ["o"], ["out"])] if probs else [helper.make_node("Identity", ["o"], ["out"])]
    decoder = graph([helper.make_node("Gemm", ["z", "w3", "b3"], ["h"]), helper.make_node("Relu", ["h"], ["r"]),
                     helper.make_node("Gemm", ["r", "w4", "b4"], ["o"]), *last],
                    ["w3", "b3", "w4", "b4"], "z", "out", LATENT, 784)
    onnx.save(encoder, folder / "enc.onnx")
    onnx.save(decoder, folder / "dec.onnx")
    return w


def write_spec(folder: Path, **overrides) -> Path:
    spec = {"input_shape": [1, 28, 28], "input_range": "symmetric", "input_layout": "flat", "posterior": "log_std",
            "decoder_output": "probs", "likelihood": "bernoulli", **overrides}
    (folder / "spec.json").write_text(json.dumps(spec))
    return folder / "spec.json"


def onnx_args(tmp_path: Path, images: Path, out: Path) -> list[str]:
    return ["onnx", "--encoder", str(tmp_path / "enc.onnx"), "--decoder", str(tmp_path / "dec.onnx"),
            "--spec", str(tmp_path / "spec.json"), "--dataset", str(images), "--out", str(out),
            "--no-umap", "--iwae-k", "5", "--iwae-images", "8"]


def test_an_onnx_pair_built_with_onnx_helper_imports_with_its_conventions_adapted(tmp_path, images_npz, synthetic):
    w = mlp_pair(tmp_path)
    write_spec(tmp_path)
    out = tmp_path / "checkpoints" / "helper-pair"
    assert main(onnx_args(tmp_path, images_npz, out)) == 0
    bundle = load_bundle(out)
    assert isinstance(bundle.model, PortableVAE) and bundle.class_names == synthetic.class_names
    # The bundle's codes, by the user's own conventions computed here in NumPy.
    x = synthetic.test_images.reshape(len(synthetic.test_images), -1).astype(np.float32) / 255 * 2 - 1
    params = np.maximum(x @ w["w1"] + w["b1"], 0) @ w["w2"] + w["b2"]
    np.testing.assert_allclose(bundle.mu, params[:, :LATENT], atol=1e-4)
    np.testing.assert_allclose(bundle.logvar, 2 * params[:, LATENT:], atol=1e-4)
    z = bundle.mu[:4]
    probs = 1 / (1 + np.exp(-(np.maximum(z @ w["w3"] + w["b3"], 0) @ w["w4"] + w["b4"])))
    decoded = bundle.model.decode(torch.from_numpy(z)).numpy()
    np.testing.assert_allclose(decoded, probs.reshape(4, 1, 28, 28), atol=1e-5)
    assert bundle.config["import"]["route"] == "onnx" and np.isfinite(bundle.config["metrics"]["iwae_nll"])


MODULE = '''
import torch
from torch import nn


class NormalVAE(nn.Module):
    """Takes images in [-1, 1], returns a Normal from encode and image-shaped logits from decode."""

    def __init__(self, latent=4):
        super().__init__()
        self.enc = nn.Sequential(nn.Conv2d(1, 4, 4, 2, 1), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 14 * 14, 2 * latent))
        self.dec = nn.Sequential(nn.Linear(latent, 784), nn.Unflatten(1, (1, 28, 28)))

    def encode(self, x):
        mu, raw = self.enc(x).chunk(2, dim=1)
        return torch.distributions.Normal(mu, nn.functional.softplus(raw) + 1e-3)

    def decode(self, z):
        return self.dec(z)


def build():
    return NormalVAE()


def broken():
    raise RuntimeError("boom: the GPU this expects is not here")
'''


def torch_args(tmp_path: Path, images: Path, out: Path, factory: str, weights: Path) -> list[str]:
    return ["torch", "--model", f"{tmp_path / 'user_model.py'}:{factory}", "--weights", str(weights),
            "--dataset", str(images), "--out", str(out), "--no-umap", "--iwae-k", "0"]


def test_a_torch_module_returning_a_normal_on_symmetric_input_imports(tmp_path, images_npz, synthetic):
    (tmp_path / "user_model.py").write_text(MODULE)
    namespace: dict = {}
    exec(MODULE, namespace)
    torch.manual_seed(3)
    module = namespace["build"]().eval()
    save_file(module.state_dict(), tmp_path / "w.safetensors")
    out = tmp_path / "checkpoints" / "normal"
    args = torch_args(tmp_path, images_npz, out, "build", tmp_path / "w.safetensors")
    assert main([*args, "--input-range", "symmetric", "--posterior", "std", "--decoder-output", "logits"]) == 0
    bundle = load_bundle(out)
    with torch.no_grad():
        posterior = module.encode(torch.from_numpy(synthetic.test_images).float() / 255 * 2 - 1)
    np.testing.assert_allclose(bundle.mu, posterior.loc.numpy(), atol=1e-5)
    np.testing.assert_allclose(bundle.logvar, 2 * posterior.scale.log().numpy(), atol=1e-4)
    assert bundle.config["import"]["parity"]["max_abs_diff"]["logits"] <= 1e-4


def test_a_pythae_vae_trained_for_an_epoch_imports_and_is_explored(tmp_path, synthetic, monkeypatch):
    pytest.importorskip("pythae", reason="the pythae route needs pip install pythae")
    from pythae.models import VAE, VAEConfig
    from pythae.pipelines import TrainingPipeline
    from pythae.trainers import BaseTrainerConfig

    torch.manual_seed(0)
    model = VAE(VAEConfig(input_dim=(1, 28, 28), latent_dim=6, reconstruction_loss="bce"))
    config = BaseTrainerConfig(output_dir=str(tmp_path / "pythae"), num_epochs=1, per_device_train_batch_size=64,
                               per_device_eval_batch_size=64, no_cuda=True)
    train = torch.from_numpy(synthetic.train_images).float() / 255
    TrainingPipeline(training_config=config, model=model)(train_data=train, eval_data=train[:64])
    (folder,) = (tmp_path / "pythae").glob("*/final_model")
    out = tmp_path / "checkpoints" / "pythae-vae"
    assert main(["pythae", str(folder), "--dataset", "synthetic", "--out", str(out), "--no-umap",
                 "--iwae-k", "10", "--iwae-images", "16"]) == 0
    bundle = load_bundle(out)
    assert bundle.latent_dim == 6 and bundle.config["training"]["likelihood"] == "bernoulli"
    assert bundle.config["import"]["pythae_model"] == "VAE"
    with torch.no_grad():
        want = model.encoder(torch.from_numpy(bundle.images[:50]).float() / 255).embedding.numpy()
    np.testing.assert_allclose(bundle.mu[:50], want, atol=1e-5)

    from streamlit.testing.v1 import AppTest

    from .conftest import page_script

    monkeypatch.setenv("VAE_LAB_CHECKPOINTS", str(out.parent))
    at = AppTest.from_file(page_script("explore"), default_timeout=60)
    at.session_state["bundle_choice"] = "pythae-vae"
    at.run()
    assert not at.exception and at.get("plotly_chart")
    (sliders,) = [c for c in (json.loads(c.proto.json) for c in at.get("bidi_component")) if "rows" in c]
    assert sorted(row["dim"] for row in sliders["rows"]) == list(range(6))


# ---------------------------------------------------------------- refusals


def refused(args: list[str], capsys, out: Path) -> str:
    """Run the CLI, expect a refusal: exit 2, one line on stderr, and no bundle anywhere to list."""
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err
    assert scan([out.parent]) == [] and not (out / "config.json").exists()
    return err


def test_refused_a_custom_domain_operator(tmp_path, images_npz, capsys):
    mlp_pair(tmp_path, domain="com.example.fast")
    write_spec(tmp_path)
    out = tmp_path / "checkpoints" / "x"
    assert "custom operator domain 'com.example.fast'" in refused(onnx_args(tmp_path, images_npz, out), capsys, out)


def test_refused_outputs_that_disagree_with_the_spec(tmp_path, images_npz, capsys):
    mlp_pair(tmp_path)
    write_spec(tmp_path, latent_dim=5)
    out = tmp_path / "checkpoints" / "x"
    err = refused(onnx_args(tmp_path, images_npz, out), capsys, out)
    assert "the encoder gives 3-D codes (3), but latent_dim 5 was given" in err


def test_refused_a_decoder_outside_its_declared_range(tmp_path, images_npz, capsys):
    mlp_pair(tmp_path, probs=False)
    write_spec(tmp_path)
    out = tmp_path / "checkpoints" / "x"
    assert "outside the [0, 1] that probabilities stay in" in refused(onnx_args(tmp_path, images_npz, out), capsys, out)


def test_refused_a_truncated_onnx_file(tmp_path, images_npz, capsys):
    mlp_pair(tmp_path)
    write_spec(tmp_path)
    data = (tmp_path / "enc.onnx").read_bytes()
    (tmp_path / "enc.onnx").write_bytes(data[: len(data) * 2 // 3])
    out = tmp_path / "checkpoints" / "x"
    assert "enc.onnx: not an ONNX model" in refused(onnx_args(tmp_path, images_npz, out), capsys, out)


def test_refused_external_data_outside_the_models_folder(tmp_path, images_npz, capsys):
    mlp_pair(tmp_path)
    write_spec(tmp_path)
    graph = onnx.load(tmp_path / "enc.onnx")
    tensor = next(t for t in graph.graph.initializer if t.name == "w1")
    (tmp_path.parent / "secret.bin").write_bytes(tensor.raw_data)
    tensor.ClearField("raw_data")
    tensor.data_location = TensorProto.EXTERNAL
    entry = tensor.external_data.add()
    entry.key, entry.value = "location", "../secret.bin"
    onnx.save(graph, tmp_path / "enc.onnx")
    out = tmp_path / "checkpoints" / "x"
    err = refused(onnx_args(tmp_path, images_npz, out), capsys, out)
    assert "points to external data '../secret.bin' outside the model's folder" in err


class CodeInPickle:
    """Unpickling this creates a file: the proof that a loader ran code from a weights file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_refused_a_pt_whose_pickle_holds_code_and_the_code_never_runs(tmp_path, images_npz, capsys):
    (tmp_path / "user_model.py").write_text(MODULE)
    marker = tmp_path / "pwned"
    with (tmp_path / "evil.pt").open("wb") as handle:
        pickle.dump({"enc.0.weight": CodeInPickle(marker)}, handle)
    torch.save({"state": CodeInPickle(marker)}, tmp_path / "evil2.pt")
    out = tmp_path / "checkpoints" / "x"
    for name in ("evil.pt", "evil2.pt"):
        err = refused(torch_args(tmp_path, images_npz, out, "build", tmp_path / name), capsys, out)
        assert f"{name}: holds Python objects besides tensors" in err
    assert not marker.exists()


def test_refused_a_factory_that_raises(tmp_path, images_npz, capsys):
    (tmp_path / "user_model.py").write_text(MODULE)
    save_file({"x": torch.zeros(1)}, tmp_path / "w.safetensors")
    out = tmp_path / "checkpoints" / "x"
    err = refused(torch_args(tmp_path, images_npz, out, "broken", tmp_path / "w.safetensors"), capsys, out)
    assert "broken() raised RuntimeError: boom" in err


def test_refused_pythae_custom_nets_with_the_torch_route_named_and_never_unpickled(tmp_path, capsys):
    folder = tmp_path / "final_model"
    folder.mkdir()
    (folder / "model_config.json").write_text(json.dumps(
        {"name": "VAEConfig", "input_dim": [1, 28, 28], "latent_dim": 4, "uses_default_encoder": False,
         "uses_default_decoder": True, "reconstruction_loss": "bce"}))
    marker = tmp_path / "pwned"
    with (folder / "encoder.pkl").open("wb") as handle:
        pickle.dump(CodeInPickle(marker), handle)
    torch.save({"model_state_dict": {}}, folder / "model.pt")
    out = tmp_path / "checkpoints" / "x"
    err = refused(["pythae", str(folder), "--dataset", "synthetic", "--out", str(out)], capsys, out)
    assert "custom nets stored with cloudpickle (encoder.pkl)" in err and "torch route" in err
    assert not marker.exists()
