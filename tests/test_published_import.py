"""VAEs written the way published projects write them import with no convention flags, and decode as the
model itself does: AntixK's package and Tanh output with a Lightning checkpoint, pytorch/examples'
script, diffusers' output objects and spatial latent, a Keras-style ONNX pair with three encoder
outputs. A model whose conventions cannot be told stops with a question; a wrong flag is refused
with the evidence. Each model is trained here for a few seconds on the synthetic bars, so that its
reconstructions say which reading of it is right."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import save_file

from vae.bundle import load_bundle
from vae.bundle.catalog import scan
from vae.cli.main import main as vae_lab

from .published import models
from .published.training import fit, keras_style_pair, kl

PIXEL_TOLERANCE = 1e-3


def run_import(args: list[str], capsys) -> tuple[int, str]:
    code = vae_lab(["import", *args])
    return code, capsys.readouterr().err


def namespace(source: str) -> dict:
    """Run model source as a module of its own (dataclasses look their module up in sys.modules)."""
    module = types.ModuleType(f"published_{abs(hash(source))}")
    sys.modules[module.__name__] = module
    exec(source, module.__dict__)
    return module.__dict__


def rgb64(images: np.ndarray) -> np.ndarray:
    """uint8 (N, 1, 28, 28) bars -> (N, 3, 64, 64) colour images, channels unlike each other."""
    x = F.interpolate(torch.from_numpy(images).float(), size=(64, 64), mode="bilinear", align_corners=False)
    rgb = torch.cat([x, 0.6 * x, 0.8 * x.flip(-1)], dim=1)
    return rgb.round().clamp(0, 255).to(torch.uint8).numpy()


def save_images(path: Path, images: np.ndarray, labels: np.ndarray) -> Path:
    """As a user hands images over: (N, H, W[, C]) uint8 in a .npz with labels."""
    np.savez(path, images=images.transpose(0, 2, 3, 1).squeeze(-1) if images.shape[1] == 1
             else images.transpose(0, 2, 3, 1), labels=labels)
    return path


def pixel_diff(bundle_path: Path, expected_pixels: torch.Tensor) -> float:
    """max |bundle decode of its encoder means - the model's own pixels| over the first images."""
    bundle = load_bundle(bundle_path)
    with torch.no_grad():
        got = bundle.model.decode(torch.from_numpy(bundle.mu[: len(expected_pixels)]))
    return float((got - expected_pixels).abs().max())


def plausible_elbo(bundle_path: Path) -> float:
    metrics = load_bundle(bundle_path).config["metrics"]
    value = metrics["test_neg_elbo"]
    assert np.isfinite(value) and 0 < abs(value) < 1e5, metrics
    return value


# ---------------------------------------------------------------- AntixK/PyTorch-VAE


@pytest.fixture(scope="module")
def antixk(tmp_path_factory, synthetic):
    """The repository laid out as AntixK's, a VanillaVAE trained on [-1, 1] colour images (its
    older SetRange transform) and its Lightning checkpoint; (repo, ckpt, images.npz, module, images)."""
    repo = tmp_path_factory.mktemp("PyTorch-VAE")
    package = repo / "models"
    package.mkdir()
    for name, text in (("__init__.py", models.ANTIXK_INIT), ("types_.py", models.ANTIXK_TYPES),
                       ("base.py", models.ANTIXK_BASE), ("vanilla_vae.py", models.ANTIXK_MODEL)):
        (package / name).write_text(text)
    space = namespace(models.ANTIXK_MODEL.replace("from models import BaseVAE", "from torch.nn import Module as "
                      "BaseVAE").replace("from .types_ import *", "from typing import List"))
    torch.manual_seed(0)
    model = space["VanillaVAE"](in_channels=3, latent_dim=6)
    train = torch.from_numpy(rgb64(synthetic.train_images)).float() / 255 * 2 - 1

    def step(m, x):
        recons, _, mu, log_var = m(x)
        return F.mse_loss(recons, x, reduction="sum") / len(x) + kl(mu, log_var)

    fit(model, step, train, epochs=3)
    checkpoint = {"epoch": 5, "global_step": 48, "pytorch-lightning_version": "1.5.6",
                  "state_dict": {f"model.{k}": v for k, v in model.state_dict().items()},
                  "optimizer_states": [{"state": {}, "param_groups": [{"lr": 0.005}]}], "lr_schedulers": []}
    torch.save(checkpoint, repo / "last.ckpt")
    test = rgb64(synthetic.test_images)
    data = save_images(repo / "images.npz", test, synthetic.test_labels)
    return repo, data, model, test


def antixk_args(repo: Path, data: Path, out: Path, *extra: str, latent_dim: int = 6) -> list[str]:
    """`vae-lab import torch` as AntixK's README would have it: file and class, constructor arguments, weights."""
    return ["torch", "--model", str(repo / "models" / "vanilla_vae.py") + ":VanillaVAE", "--factory-kwargs",
            json.dumps({"in_channels": 3, "latent_dim": latent_dim, "hidden_dims": [8, 16, 32]}), "--weights",
            str(repo / "last.ckpt"),
            "--dataset", str(data), "--out", str(out), "--no-umap", "--iwae-k", "0", *extra]


def test_antixk_vanilla_vae_imports_from_its_package_with_a_lightning_checkpoint(antixk, tmp_path, capsys):
    repo, data, model, test = antixk
    out = tmp_path / "bundles" / "antixk"
    code, err = run_import(antixk_args(repo, data, out), capsys)
    assert code == 0, err
    record = load_bundle(out).config["import"]
    found = {k: v["value"] for k, v in record["findings"].items()}
    assert found["input_range"] == "symmetric" and found["decoder_output"] == "symmetric", record["findings"]
    assert found["input_layout"] == "nchw" and found["posterior"] == "logvar" and found["likelihood"] == "gaussian"
    assert record["weights_prefix_removed"] == "model." and record["loaded_as"] == "models.vanilla_vae"
    assert record["factory_kwargs"]["hidden_dims"] == [8, 16, 32]  # as passed, though the constructor reverses it
    with torch.no_grad():
        x = torch.from_numpy(test[:32]).float() / 255 * 2 - 1
        expected = (model.decode(model.encode(x)[0]) + 1) / 2  # Tanh output, back to [0, 1] pixels
    assert pixel_diff(out, expected) <= PIXEL_TOLERANCE
    plausible_elbo(out)


def test_a_wrong_explicit_flag_is_refused_with_the_evidence(antixk, tmp_path, capsys):
    repo, data, _, _ = antixk
    out = tmp_path / "bundles" / "wrong"
    code, err = run_import(antixk_args(repo, data, out, "--decoder-output", "logits", "--input-range", "symmetric"),
                           capsys)
    assert code == 2 and scan([out.parent]) == []
    line = err.strip().splitlines()[-1]
    assert "--decoder-output logits does not fit this model" in line and "RMS pixel error" in line, line
    assert "[-1, 1] scale" in line  # the reading the evidence points to


def test_a_checkpoint_that_does_not_fit_names_the_keys_and_shapes(antixk, tmp_path, capsys):
    repo, data, _, _ = antixk
    code, err = run_import(antixk_args(repo, data, tmp_path / "x", latent_dim=8), capsys)
    assert code == 2
    line = err.strip()
    assert "\n" not in line and "after removing the prefix 'model.'" in line
    assert "fc_mu.weight [6, 2048] in the file, [8, 2048] in the model" in line and "--factory-kwargs" in line


# ---------------------------------------------------------------- pytorch/examples vae/main.py


def test_the_pytorch_examples_script_imports_without_running_its_script_part(tmp_path, synthetic, capsys):
    folder = tmp_path / "examples" / "vae"
    folder.mkdir(parents=True)
    script = folder / "main.py"
    script.write_text(models.EXAMPLES_SCRIPT.format(model=models.EXAMPLES_CLASS))
    space = namespace("import torch\nfrom torch import nn\nfrom torch.nn import functional as F\n"
                      + models.EXAMPLES_CLASS)
    model = space["VAE"]()
    train = torch.from_numpy(synthetic.train_images).float().flatten(1) / 255

    def step(m, x):
        mu, logvar = m.encode(x)
        recon = m.decode(mu + torch.randn_like(mu) * torch.exp(0.5 * logvar))
        return F.binary_cross_entropy(recon, x, reduction="sum") / len(x) + kl(mu, logvar)

    fit(model, step, train, epochs=8, lr=1e-3)
    torch.save(model.state_dict(), tmp_path / "vae.pt")
    data = save_images(tmp_path / "images.npz", synthetic.test_images, synthetic.test_labels)
    out = tmp_path / "bundles" / "examples"
    code, err = run_import(["torch", "--model", f"{script}:VAE", "--weights", str(tmp_path / "vae.pt"),
                            "--dataset", str(data), "--out", str(out), "--no-umap", "--iwae-k", "10",
                            "--iwae-images", "16"], capsys)
    assert code == 0, err
    assert not (folder / "LOADED_AS_A_SCRIPT").exists()  # no argument parsing, download or training ran
    record = load_bundle(out).config["import"]
    assert "line 8: parser = argparse.ArgumentParser" in record["load_note"] and "note: the file runs code" in err
    found = {k: v["value"] for k, v in record["findings"].items()}
    assert (found["input_layout"], found["input_range"], found["decoder_output"], found["likelihood"]) == (
        "flat", "unit", "probs", "bernoulli"), record["findings"]
    with torch.no_grad():
        x = torch.from_numpy(synthetic.test_images[:32]).float().flatten(1) / 255
        expected = model.decode(model.encode(x)[0]).reshape(-1, 1, 28, 28)
    assert pixel_diff(out, expected) <= PIXEL_TOLERANCE
    assert 0 < plausible_elbo(out) < 784 * np.log(2)  # better than a coin per pixel


def test_a_script_that_exits_when_loaded_is_reported_not_fatal(tmp_path, synthetic, capsys):
    (tmp_path / "train.py").write_text("import sys\nfrom torch import nn\n\n\nclass VAE(nn.Module):\n    pass\n\n\n"
                                       "def build():\n    sys.exit(2)\n")
    torch.save({}, tmp_path / "w.pt")
    code, err = run_import(["torch", "--model", f"{tmp_path / 'train.py'}:build", "--weights",
                            str(tmp_path / "w.pt"), "--dataset", "synthetic", "--out", str(tmp_path / "b")], capsys)
    assert code == 2 and "called sys.exit(2)" in err and "Traceback" not in err


# ---------------------------------------------------------------- diffusers AutoencoderKL


def test_diffusers_output_objects_and_a_spatial_latent(tmp_path, synthetic, capsys):
    (tmp_path / "autoencoder_kl.py").write_text(models.DIFFUSERS_MODEL)
    space = namespace(models.DIFFUSERS_MODEL)
    torch.manual_seed(0)
    model = space["AutoencoderKL"](block_out_channels=(16, 32))
    train = torch.from_numpy(synthetic.train_images).float() / 255 * 2 - 1

    def step(m, x):
        posterior = m.encode(x).latent_dist
        recon = m.decode(posterior.sample()).sample
        return F.mse_loss(recon, x, reduction="sum") / len(x) + 0.1 * kl(posterior.mean.flatten(1),
                                                                         posterior.logvar.flatten(1))

    fit(model, step, train, epochs=6)
    save_file(model.state_dict(), tmp_path / "diffusion_pytorch_model.safetensors")
    out = tmp_path / "bundles" / "kl"
    code, err = run_import(["torch", "--model", f"{tmp_path / 'autoencoder_kl.py'}:AutoencoderKL",
                            "--weights", str(tmp_path / "diffusion_pytorch_model.safetensors"),
                            "--factory-kwargs", '{"block_out_channels": [16, 32]}',
                            "--dataset", "synthetic", "--out", str(out), "--no-umap", "--iwae-k", "0"], capsys)
    assert code == 0, err
    bundle = load_bundle(out)
    found = {k: v["value"] for k, v in bundle.config["import"]["findings"].items()}
    assert found["latent_shape"] == "(4, 7, 7)" and bundle.latent_dim == 196
    assert (found["input_range"], found["decoder_output"], found["posterior"]) == ("symmetric", "symmetric",
                                                                                   "logvar"), found
    with torch.no_grad():
        x = torch.from_numpy(bundle.images[:32]).float() / 255 * 2 - 1
        expected = ((model.decode(model.encode(x).latent_dist.mean).sample + 1) / 2).clamp(0, 1)
    assert pixel_diff(out, expected) <= PIXEL_TOLERANCE
    plausible_elbo(out)


# ---------------------------------------------------------------- keras-io's VAE, exported to ONNX


def test_a_keras_style_onnx_pair_with_three_encoder_outputs_imports_without_a_spec(tmp_path, synthetic, capsys):
    encoder, decoder = keras_style_pair(tmp_path, synthetic.train_images)
    out = tmp_path / "bundles" / "keras"
    code, err = run_import(["onnx", "--encoder", str(tmp_path / "encoder.onnx"), "--decoder",
                            str(tmp_path / "decoder.onnx"), "--dataset", "synthetic", "--out", str(out),
                            "--no-umap", "--iwae-k", "0"], capsys)
    assert code == 0, err
    found = load_bundle(out).config["import"]["findings"]
    assert found["input_layout"]["value"] == "nhwc" and found["decoder_output"]["value"] == "probs"
    assert "'z_mean' and 'z_log_var'" in found["latent_shape"]["how"]
    with torch.no_grad():
        x = torch.from_numpy(load_bundle(out).images[:32]).float().permute(0, 2, 3, 1) / 255
        expected = decoder(encoder(x)[0]).permute(0, 3, 1, 2)
    assert pixel_diff(out, expected) <= PIXEL_TOLERANCE
    plausible_elbo(out)


# ---------------------------------------------------------------- what cannot be told


def test_an_output_kind_that_cannot_be_told_stops_with_a_question(tmp_path, capsys):
    (tmp_path / "squashed.py").write_text(models.SQUASHED_MODEL)
    space = namespace(models.SQUASHED_MODEL)
    torch.manual_seed(0)
    save_file(space["Squashed"]().state_dict(), tmp_path / "w.safetensors")
    out = tmp_path / "bundles" / "squashed"
    code, err = run_import(["torch", "--model", f"{tmp_path / 'squashed.py'}:Squashed", "--weights",
                            str(tmp_path / "w.safetensors"), "--dataset", "synthetic", "--out", str(out)], capsys)
    assert code == 2 and scan([out.parent]) == []
    line = err.strip().splitlines()[-1]
    assert line.startswith("error: cannot tell") and "--decoder-output" in line and "Traceback" not in err


def test_factory_kwargs_reach_the_constructor(tmp_path, capsys):
    """The README's --factory-kwargs: a wrong argument name is the user's error, in one line."""
    (tmp_path / "m.py").write_text(models.SQUASHED_MODEL)
    torch.save({}, tmp_path / "w.pt")
    code, err = run_import(["torch", "--model", f"{tmp_path / 'm.py'}:Squashed", "--factory-kwargs",
                            json.dumps({"latent_dim": 16}), "--weights", str(tmp_path / "w.pt"),
                            "--dataset", "synthetic", "--out", str(tmp_path / "b")], capsys)
    assert code == 2 and "Squashed(**factory kwargs) raised TypeError" in err and "latent_dim" in err


def test_grey_images_for_a_colour_model_are_refused_in_the_users_terms(antixk, tmp_path, capsys):
    repo, _, _, test = antixk
    grey = save_images(tmp_path / "grey.npz", test[:, :1], np.zeros(len(test), np.int64))
    code, err = run_import(antixk_args(repo, grey, tmp_path / "x"), capsys)
    assert code == 2
    assert err.strip() == "error: the model takes 3×64×64 images, the data is 1×64×64 (use --channels 3 or RGB data)"
    code, err = run_import(antixk_args(repo, grey, tmp_path / "x", "--channels", "3", "--detect-only"), capsys)
    assert code == 0 and "found: input_range = symmetric" in err, err
