"""How long `vae-lab import` takes for a 3×64×64 model over 10,000 images, and what IWAE-k adds.

The model is written as AntixK/PyTorch-VAE writes its VanillaVAE at its default size (five stride-2
convolutions of 32..512 channels, a 128-D latent, a Tanh output): the common size of a published
64×64 VAE. Its weights are untrained (time does not depend on them), so the conventions are named
with flags. The 10,000 images are Fashion-MNIST's test set, resized to 64×64 and made RGB. Each
import runs as a user runs it, in a fresh process, without the UMAP map; `--iwae-k 0` is the
anchor. Prints a table and writes bench/results/import_time.json.

    .venv/bin/python -m bench.import_time [--iwae-k 0 10 20 50] [--images 10000]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import save_file

from vae.cli.tables import format_table
from vae.data import load_dataset

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
MODEL = '''
import torch
from torch import nn


class VanillaVAE(nn.Module):
    def __init__(self, in_channels=3, latent_dim=128, hidden_dims=(32, 64, 128, 256, 512)):
        super().__init__()
        modules, channels = [], in_channels
        for h in hidden_dims:
            modules.append(nn.Sequential(nn.Conv2d(channels, h, 3, 2, 1), nn.BatchNorm2d(h), nn.LeakyReLU()))
            channels = h
        self.encoder = nn.Sequential(*modules)
        self.fc_mu = nn.Linear(hidden_dims[-1] * 4, latent_dim)
        self.fc_var = nn.Linear(hidden_dims[-1] * 4, latent_dim)
        self.decoder_input = nn.Linear(latent_dim, hidden_dims[-1] * 4)
        rev = list(hidden_dims)[::-1]
        self.decoder = nn.Sequential(*[nn.Sequential(nn.ConvTranspose2d(rev[i], rev[i + 1], 3, 2, 1, 1),
                                                     nn.BatchNorm2d(rev[i + 1]), nn.LeakyReLU())
                                       for i in range(len(rev) - 1)])
        self.final_layer = nn.Sequential(nn.ConvTranspose2d(rev[-1], rev[-1], 3, 2, 1, 1), nn.BatchNorm2d(rev[-1]),
                                         nn.LeakyReLU(), nn.Conv2d(rev[-1], 3, 3, padding=1), nn.Tanh())

    def encode(self, x):
        h = torch.flatten(self.encoder(x), start_dim=1)
        return [self.fc_mu(h), self.fc_var(h)]

    def decode(self, z):
        return self.final_layer(self.decoder(self.decoder_input(z).view(-1, 512, 2, 2)))
'''
FLAGS = ["--input-range", "unit", "--input-layout", "nchw", "--posterior", "logvar", "--decoder-output", "means",
         "--likelihood", "gaussian", "--gaussian-sigma", "0.1"]


def rgb64(images: np.ndarray) -> np.ndarray:
    """uint8 (N, 1, 28, 28) -> (N, 64, 64, 3), as a user hands images over."""
    chunks = []
    for start in range(0, len(images), 1000):
        x = torch.from_numpy(images[start:start + 1000]).float()
        x = F.interpolate(x, size=(64, 64), mode="bilinear", align_corners=False)
        chunks.append(x.repeat(1, 3, 1, 1).round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy())
    return np.concatenate(chunks)


def import_seconds(folder: Path, data: Path, iwae_k: int) -> float:
    out = folder / f"bundle-k{iwae_k}"
    argv = [sys.executable, "-m", "vae.cli", "import", "torch", "--model", f"{folder / 'vanilla_vae.py'}:VanillaVAE",
            "--weights", str(folder / "w.safetensors"), "--dataset", str(data), "--out", str(out), "--no-umap",
            "--iwae-k", str(iwae_k), *FLAGS]
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(done.stderr.strip().splitlines()[-1])
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iwae-k", type=int, nargs="+", default=[0, 10, 20, 50])
    parser.add_argument("--images", type=int, default=10_000)
    args = parser.parse_args()
    dataset = load_dataset("fashion-mnist")
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        (folder / "vanilla_vae.py").write_text(MODEL)
        space: dict = {}
        exec(MODEL, space)
        torch.manual_seed(0)
        save_file(space["VanillaVAE"]().state_dict(), folder / "w.safetensors")
        np.savez(folder / "images.npz", images=rgb64(dataset.test_images[: args.images]),
                 labels=dataset.test_labels[: args.images])
        seconds = {k: import_seconds(folder, folder / "images.npz", k) for k in args.iwae_k}
    anchor = seconds.get(0)
    rows = [(k, round(s, 1), round(s / anchor, 2) if anchor else "–") for k, s in seconds.items()]
    print(format_table([f"--iwae-k ({args.images:,} images, 3×64×64, default --iwae-images)", "import s", "× k=0"],
                       rows))
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "import_time.json").write_text(json.dumps({"images": args.images, "seconds": seconds}, indent=2))


if __name__ == "__main__":
    main()
