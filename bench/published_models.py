"""`vae-lab import` on published VAE code, as its users would run it: train briefly, import, compare.

For each model the published source itself builds the network (AntixK's PyTorch-VAE VanillaVAE,
pytorch/examples' vae/main.py, keras-io's VAE on Keras 3, diffusers' AutoencoderKL), it is trained
here for a minute or so on Fashion-MNIST, saved the way its project saves it, and imported with the
one `vae-lab import` command a user would type, with no convention flags. Recorded per model: the
command, whether it worked (or its one-line refusal), what the importer found, its ONNX parity,
the test -ELBO, the import's wall time, and the largest pixel difference between the bundle's decode
of its stored codes (the encoder means) and the model's own decode of its encoder means, computed
here from the model's own code and conventions. Prints a table and writes
bench/results/published_models.json.

    python -m bench.published_models --src SRC [--only antixk,keras] [--train-seconds 60]

(a Python with VAE Lab, lightning, keras and diffusers: see docs/published-models.md). The sources
are looked for under --src (default $VAE_LAB_PUBLISHED_SRC or ./published-src): AntixK+PyTorch-VAE/,
pytorch+examples/vae/main.py, keras-io/examples/generative/vae.py; diffusers, keras and lightning
are imported from the running Python. A model whose source or package is missing is skipped,
with the reason.
"""

from __future__ import annotations

import argparse
import ast
import datetime as dt
import json
import os
import shlex
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch
import torch.nn.functional as F

from vae.cli.tables import format_table
from vae.data.datasets import load_idx_dataset

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
DEFAULT_SRC = Path(os.environ.get("VAE_LAB_PUBLISHED_SRC", "published-src"))
CHECK_IMAGES = 256  # images whose decoded codes are compared, bundle against the model's own code
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


MODELS = {"antixk": antixk, "pytorch-examples": pytorch_examples, "keras-io": keras_io, "diffusers-kl": diffusers_kl}
# Seconds of training on a shared 2-core machine: enough for reconstructions clearly better than the mean
# image (Keras' torch backend takes ~0.8 s a step there, so keras-io gets the longest).
TRAIN_SECONDS = {"antixk": 60, "pytorch-examples": 30, "keras-io": 120, "diffusers-kl": 60}


def run_import(name: str, trained: Trained, work: Path, umap: bool) -> dict:
    """The user's command in a fresh process; the bundle's findings, parity, -ELBO and pixel check."""
    out = work / name / "bundle"
    args = ["import", *trained.import_args, "--out", str(out), "--overwrite", *([] if umap else ["--no-umap"])]
    command = "vae-lab " + " ".join(trained.shown.get(a, shlex.quote(a)) for a in args)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "vae.cli", *args], cwd=ROOT, capture_output=True, text=True)
    result = {"command": command, "worked": done.returncode == 0, "wall_s": round(time.perf_counter() - started, 1),
              "stderr_tail": [line for line in done.stderr.splitlines() if "it/s" not in line and "s/it" not in line
                              and "img/s" not in line and "step/s" not in line][-8:]}
    if done.returncode != 0:
        result["error"] = next((line for line in reversed(done.stderr.splitlines()) if line.startswith("error:")),
                               done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "no output")
        return result
    from vae.bundle import load_bundle

    bundle = load_bundle(out)
    record = bundle.config["import"]
    images = np.asarray(bundle.images[:CHECK_IMAGES])
    with torch.no_grad():
        decoded = bundle.model.decode(torch.from_numpy(bundle.mu[:CHECK_IMAGES])).numpy()
    own = trained.reference(images)
    result.update({
        "findings": {k: v["value"] for k, v in record["findings"].items()},
        "how": {k: v["how"] for k, v in record["findings"].items()},
        "pixel_rmse": record.get("pixel_rmse"),
        # the torch route compares its exported graphs with PyTorch; the onnx route's graphs are the user's own
        "parity_max_abs_diff": max(record["parity"]["max_abs_diff"].values()) if "parity" in record else None,
        "test_neg_elbo": bundle.config["metrics"].get("test_neg_elbo"),
        "iwae": {k: v for k, v in bundle.config["metrics"].items() if "iwae" in k},
        "decode_vs_own_max_abs": float(np.abs(decoded - own).max()) if decoded.shape == own.shape else None,
        "decode_shapes": [list(decoded.shape), list(own.shape)],
        "load_note": record.get("load_note"),
    })
    return result


def row(name: str, r: dict) -> tuple:
    if r.get("skipped"):
        return (name, "skipped", "", "", "", "", "", r["skipped"][:60])
    if not r.get("worked"):
        return (name, "no", "", "", "", "", r.get("wall_s", ""), (r.get("error") or "")[:90])
    f = r["findings"]
    found = (f"{f.get('input_layout')} {f.get('input_range')} -> {f.get('decoder_output')}, "
             f"{f.get('posterior')}, {f.get('likelihood')}, z {f.get('latent_shape')}")
    elbo = r["test_neg_elbo"]
    parity = "n/a (onnx)" if r["parity_max_abs_diff"] is None else f"{r['parity_max_abs_diff']:.1e}"
    return (name, "yes", found, parity, "" if elbo is None else round(elbo, 1),
            "" if r["decode_vs_own_max_abs"] is None else f"{r['decode_vs_own_max_abs']:.1e}", r["wall_s"], "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--src", type=Path, default=DEFAULT_SRC, help="where the published sources are")
    parser.add_argument("--only", help=f"comma-separated subset of {', '.join(MODELS)}")
    parser.add_argument("--train-seconds", type=float, help="training time of every model (default: TRAIN_SECONDS)")
    parser.add_argument("--umap", action="store_true", help="let the import build its UMAP map too (about a minute)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads for training (the machine is shared)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    work = RESULTS / "published_models"
    work.mkdir(parents=True, exist_ok=True)
    fashion = load_idx_dataset("fashion-mnist", download=False)
    names = args.only.split(",") if args.only else list(MODELS)
    results = {}
    for name in names:
        seconds = args.train_seconds or TRAIN_SECONDS[name]
        print(f"--- {name}: training for {seconds:g} s", file=sys.stderr, flush=True)
        try:
            trained = MODELS[name](args.src, work, fashion, seconds)
        except Skipped as exc:
            results[name] = {"skipped": str(exc)}
            continue
        except Exception as exc:  # a bench run reports a model it could not train and goes on to the next
            results[name] = {"skipped": f"training failed: {type(exc).__name__}: {exc}",
                             "traceback": traceback.format_exc().splitlines()[-6:]}
            continue
        print(f"--- {name}: importing", file=sys.stderr, flush=True)
        results[name] = {"training": trained.training, **run_import(name, trained, work, args.umap)}
    print(format_table(["model", "imported", "found (layout range -> output, posterior, likelihood, latent)",
                        "parity", "-ELBO", "decode vs own", "wall s", "error"],
                       [row(n, r) for n, r in results.items()]))
    for name, r in results.items():
        if "command" in r:
            print(f"\n{name}: {r['command'][:400]}")
    out = RESULTS / "published_models.json"
    out.write_text(json.dumps({"date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "threads": args.threads,
                               "umap": args.umap, "models": results}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
