"""The published VAEs of bench.published_models, each built by its own project's code, trained briefly on
Fashion-MNIST and saved as that project saves it: what `vae-lab import` is then run on.

A model whose source or package is missing raises Skipped, with the reason.
"""

from __future__ import annotations

import ast
import datetime as dt
import json
import os
import shlex
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch
import torch.nn.functional as F

TRAIN_IMAGES_64 = 20_000  # 64x64 RGB copies are 12 KB each: a subset keeps the training set small


class Skipped(Exception):
    """A model that cannot be run here (its source or package is missing); the message says which."""


@dataclass
class Trained:
    """A model trained and saved as its project does, ready to import."""

    import_args: list[str]  # what follows `vae-lab import`
    reference: Callable[[np.ndarray], np.ndarray]  # uint8 (N, C, H, W) -> its own decode of the means, [0, 1]
    training: dict = field(default_factory=dict)
    shown: dict[str, str] = field(default_factory=dict)  # an argument as the recorded command shows it


def batches(images: np.ndarray, seconds: float, batch: int, seed: int = 0) -> Iterator[np.ndarray]:
    """Shuffled batches of `images`, epoch after epoch, until `seconds` have passed."""
    rng, started = np.random.default_rng(seed), time.perf_counter()
    while True:
        order = rng.permutation(len(images))
        for start in range(0, len(images) - batch + 1, batch):
            if time.perf_counter() - started > seconds:
                return
            yield images[order[start:start + batch]]


def fit(params: list[torch.Tensor], loss_of: Callable[[np.ndarray], torch.Tensor], images: np.ndarray,
        seconds: float, batch: int = 128, lr: float = 1e-3) -> dict:
    """Adam on `loss_of(batch)` for `seconds`; the steps taken and the last 20 steps' mean loss."""
    optimizer, losses = torch.optim.Adam(params, lr=lr), []
    for x in batches(images, seconds, batch):
        optimizer.zero_grad()
        loss = loss_of(x)
        loss.backward()
        optimizer.step()
        losses.append(float(loss))
    return {"steps": len(losses), "final_loss": round(float(np.mean(losses[-20:])), 4), "seconds": seconds}


def unit(images: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(images)).float() / 255


def to_rgb64(images: np.ndarray) -> np.ndarray:
    """uint8 (N, 1, 28, 28) -> uint8 (N, 3, 64, 64): resized (bilinear) and grey repeated as RGB."""
    out = [F.interpolate(unit(images[i:i + 2000]), size=64, mode="bilinear", antialias=True)
           for i in range(0, len(images), 2000)]
    return (torch.cat(out).clamp(0, 1) * 255).round().byte().expand(-1, 3, -1, -1).numpy()


def definitions(path: Path) -> dict:
    """Run only a script's imports, functions and classes (`import` of a script that parses
    arguments and trains at load time cannot); the file stays unchanged."""
    if not path.is_file():
        raise Skipped(f"{path}: not found")
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    keep = [n for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom | ast.FunctionDef | ast.ClassDef)]
    space: dict = {"__name__": f"published_{path.stem}"}
    exec(compile(ast.Module(body=keep, type_ignores=[]), str(path), "exec"), space)  # noqa: S102 - the user's own code
    return space


# ------------------------------------------------------------------ (1) AntixK/PyTorch-VAE VanillaVAE


ANTIXK_KWARGS = {"in_channels": 3, "latent_dim": 32, "hidden_dims": [16, 32, 64, 128, 512]}  # decode() needs 512


def antixk(src: Path, work: Path, fashion, seconds: float) -> Trained:
    """Its own model file and loss, trained by its own LightningModule (experiment.py) on 64x64 RGB
    images in [0, 1] (dataset.py: Resize + ToTensor), saved by Lightning's trainer.save_checkpoint."""
    repo = src / "AntixK+PyTorch-VAE"
    if not (repo / "models" / "vanilla_vae.py").is_file():
        raise Skipped(f"{repo}/models/vanilla_vae.py: not found")
    try:
        import pytorch_lightning as pl
    except ImportError as exc:
        raise Skipped(f"pytorch_lightning is not installed ({exc})") from exc
    sys.path.insert(0, str(repo))
    from experiment import VAEXperiment  # AntixK's LightningModule
    from models import VanillaVAE

    class Experiment(VAEXperiment):
        """Lightning 2 refuses a training_step with an `optimizer_idx` argument (AntixK targets 1.x)."""

        def training_step(self, batch, batch_idx):
            return super().training_step(batch, batch_idx)

    torch.manual_seed(0)
    model = VanillaVAE(**json.loads(json.dumps(ANTIXK_KWARGS)))  # it reverses hidden_dims in place: a copy
    experiment = Experiment(model, {"LR": 0.005, "weight_decay": 0.0, "scheduler_gamma": 0.95,
                                      "kld_weight": 0.00025, "manual_seed": 1265})  # configs/vae.yaml
    grey64 = to_rgb64(fashion.train_images[:TRAIN_IMAGES_64])[:, :1]  # one channel kept; RGB per batch
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(
        torch.from_numpy(grey64), torch.from_numpy(fashion.train_labels[:TRAIN_IMAGES_64])), batch_size=64,
        shuffle=True, collate_fn=lambda items: (torch.stack([unit(x.numpy()).expand(3, -1, -1) for x, _ in items]),
                                                torch.stack([y for _, y in items])))
    trainer = pl.Trainer(accelerator="cpu", devices=1, max_epochs=100, max_time=dt.timedelta(seconds=seconds),
                         logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, limit_val_batches=0, num_sanity_val_steps=0)
    trainer.fit(experiment, train_dataloaders=loader)
    weights = work / "antixk" / "last.ckpt"
    weights.parent.mkdir(parents=True, exist_ok=True)
    trainer.save_checkpoint(weights)
    test = to_rgb64(fashion.test_images)
    data = work / "antixk" / "fashion-mnist-test-64-rgb.npz"
    np.savez(data, images=test.transpose(0, 2, 3, 1), labels=fashion.test_labels)  # the .npz takes NHWC
    model.eval()

    def reference(images: np.ndarray) -> np.ndarray:
        with torch.no_grad():  # the Tanh output, trained by MSE against [0, 1] images: its pixels clipped
            return model.decode(model.encode(unit(images))[0]).clamp(0, 1).numpy()

    return Trained(["torch", "--model", f"{repo / 'models' / 'vanilla_vae.py'}:VanillaVAE", "--weights", str(weights),
                    "--factory-kwargs", json.dumps(ANTIXK_KWARGS), "--dataset", str(data)], reference,
                   {"steps": int(trainer.global_step), "seconds": seconds, "saved": "trainer.save_checkpoint",
                    "note": "experiment.py's training_step wrapped without optimizer_idx for Lightning 2"})


# ------------------------------------------------------------------ (2) pytorch/examples vae/main.py


def pytorch_examples(src: Path, work: Path, fashion, seconds: float) -> Trained:
    """main.py's VAE and loss_function (BCE + KL, summed), trained on Fashion-MNIST in [0, 1];
    saved with torch.save(model.state_dict())."""
    path = src / "pytorch+examples" / "vae" / "main.py"
    space = definitions(path)
    torch.manual_seed(1)
    model, loss_function = space["VAE"](), space["loss_function"]

    def loss_of(x: np.ndarray) -> torch.Tensor:
        data = unit(x)
        recon_batch, mu, logvar = model(data)
        return loss_function(recon_batch, data, mu, logvar) / len(data)

    training = fit(list(model.parameters()), loss_of, fashion.train_images, seconds)
    weights = work / "pytorch-examples" / "vae.pt"
    weights.parent.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), weights)
    model.eval()

    def reference(images: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return model.decode(model.encode(unit(images).flatten(1))[0]).reshape(len(images), 1, 28, 28).numpy()

    return Trained(["torch", "--model", f"{path}:VAE", "--weights", str(weights), "--dataset", "fashion-mnist"],
                   reference, training)


# ------------------------------------------------------------------ (3) keras-io examples/generative/vae.py


def keras_io(src: Path, work: Path, fashion, seconds: float) -> Trained:
    """Its Sampling layer, encoder and decoder, built by its own lines on Keras 3 (torch backend; the
    few tf calls mapped to keras.ops), trained with its train_step's loss; each exported to ONNX."""
    path = src / "keras-io" / "examples" / "generative" / "vae.py"
    if os.environ.get("KERAS_BACKEND", "torch") != "torch":
        raise Skipped("KERAS_BACKEND must be torch (no TensorFlow here)")
    os.environ["KERAS_BACKEND"] = "torch"
    try:
        import keras
    except ImportError as exc:
        raise Skipped(f"keras is not installed ({exc})") from exc
    if not path.is_file():
        raise Skipped(f"{path}: not found")
    tree = ast.parse(path.read_text(encoding="utf-8"))
    sampling = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Sampling")
    assigned = [ast.unparse(n.targets[0]) if isinstance(n, ast.Assign) else "" for n in tree.body]
    first, last = assigned.index("latent_dim"), assigned.index("decoder")  # the encoder's and decoder's lines
    build = [sampling, *[n for n in tree.body[first:last + 1] if not (
        isinstance(n, ast.Expr) and isinstance(n.value, ast.Call) and ast.unparse(n.value.func).endswith(".summary"))]]
    tf = SimpleNamespace(shape=keras.ops.shape, exp=keras.ops.exp, keras=SimpleNamespace(
        backend=SimpleNamespace(random_normal=lambda shape: keras.random.normal(shape))))
    keras.utils.set_random_seed(2)
    space = {"np": np, "tf": tf, "keras": keras, "layers": keras.layers}
    exec(compile(ast.Module(body=build, type_ignores=[]), str(path), "exec"), space)  # noqa: S102
    encoder, decoder = space["encoder"], space["decoder"]

    def loss_of(x: np.ndarray) -> torch.Tensor:  # train_step's loss, in keras.ops
        data = unit(x).permute(0, 2, 3, 1)
        z_mean, z_log_var, z = encoder(data)
        reconstruction = decoder(z)
        reconstruction_loss = keras.ops.mean(keras.ops.sum(
            keras.losses.binary_crossentropy(data, reconstruction), axis=(1, 2)))
        kl_loss = -0.5 * (1 + z_log_var - keras.ops.square(z_mean) - keras.ops.exp(z_log_var))
        return reconstruction_loss + keras.ops.mean(keras.ops.sum(kl_loss, axis=1))

    params = [v.value for v in encoder.trainable_weights + decoder.trainable_weights]
    training = fit(params, loss_of, fashion.train_images, seconds)
    folder = work / "keras-io"
    folder.mkdir(parents=True, exist_ok=True)
    try:
        encoder.export(str(folder / "encoder.onnx"), format="onnx")
    except Exception as exc:  # noqa: BLE001 - recorded; the two outputs a user deploys are exported instead
        training["encoder_export"] = (f"the encoder with its Sampling output does not export "
                                      f"({type(exc).__name__}: {str(exc).splitlines()[0][:120]}); "
                                      f"exported keras.Model(encoder.input, [z_mean, z_log_var]) instead")
        means = keras.Model(encoder.input, [encoder.get_layer(n).output for n in ("z_mean", "z_log_var")])
        means.predict(unit(fashion.test_images[:2]).permute(0, 2, 3, 1).numpy(), verbose=0)  # export needs a call
        means.export(str(folder / "encoder.onnx"), format="onnx")
    decoder.export(str(folder / "decoder.onnx"), format="onnx")

    def reference(images: np.ndarray) -> np.ndarray:
        z_mean = encoder.predict(unit(images).permute(0, 2, 3, 1).numpy(), verbose=0)[0]
        return np.asarray(decoder.predict(z_mean, verbose=0)).transpose(0, 3, 1, 2)

    return Trained(["onnx", "--encoder", str(folder / "encoder.onnx"), "--decoder", str(folder / "decoder.onnx"),
                    "--dataset", "fashion-mnist"], reference, training)


# ------------------------------------------------------------------ (4) diffusers AutoencoderKL


DIFFUSERS_CONFIG = {"in_channels": 1, "out_channels": 1, "latent_channels": 4, "layers_per_block": 1,
                    "norm_num_groups": 8, "sample_size": 28, "block_out_channels": [16, 32, 32],
                    "down_block_types": ["DownEncoderBlock2D"] * 3, "up_block_types": ["UpDecoderBlock2D"] * 3}


def diffusers_kl(src: Path, work: Path, fashion, seconds: float) -> Trained:
    """A tiny AutoencoderKL (28 -> 7: a 4x7x7 latent) trained on [-1, 1] images with MSE + 0.1 KL,
    saved with save_pretrained; --model names diffusers' own autoencoder_kl.py."""
    try:
        import diffusers
        from diffusers import AutoencoderKL
    except ImportError as exc:
        raise Skipped(f"diffusers is not installed ({exc})") from exc
    torch.manual_seed(3)
    model = AutoencoderKL(**DIFFUSERS_CONFIG)

    def loss_of(x: np.ndarray) -> torch.Tensor:
        data = unit(x) * 2 - 1
        posterior = model.encode(data).latent_dist
        recon = model.decode(posterior.sample()).sample
        return F.mse_loss(recon, data, reduction="sum") / len(data) + 0.1 * posterior.kl().mean()

    training = fit(list(model.parameters()), loss_of, fashion.train_images, seconds, batch=64)
    folder = work / "diffusers-kl"
    model.save_pretrained(folder)
    model.eval()
    source = Path(diffusers.__file__).parent / "models" / "autoencoders" / "autoencoder_kl.py"

    def reference(images: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            mean = model.encode(unit(images) * 2 - 1).latent_dist.mean
            return ((model.decode(mean).sample + 1) / 2).clamp(0, 1).numpy()

    config = (folder / "config.json").read_text(encoding="utf-8")  # the whole saved config, as a user passes it
    return Trained(["torch", "--model", f"{source}:AutoencoderKL", "--weights",
                    str(folder / "diffusion_pytorch_model.safetensors"), "--factory-kwargs", config,
                    "--dataset", "fashion-mnist"], reference, training,
                   {config: f'"$(cat {shlex.quote(str(folder / "config.json"))})"'})
