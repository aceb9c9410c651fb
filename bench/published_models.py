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
import datetime as dt
import json
import os
import shlex
import subprocess
import sys
import time
import traceback
from pathlib import Path

import numpy as np
import torch

from bench.published_trainers import Skipped, Trained, antixk, diffusers_kl, keras_io, pytorch_examples
from vae.cli.tables import format_table
from vae.data.datasets import load_idx_dataset

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
DEFAULT_SRC = Path(os.environ.get("VAE_LAB_PUBLISHED_SRC", "published-src"))
CHECK_IMAGES = 256  # images whose decoded codes are compared, bundle against the model's own code
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
