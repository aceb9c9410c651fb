"""Training speed of the `classic` MLP VAE (784-400-20, batch 128, Adam 1e-3) on the CPU.

Measures, in one run on the same machine, the same model (the project's `classic` preset: one
layer gives mu and logvar, BCE on logits) fed two ways:
  1. as pytorch/examples feeds it: a shuffling DataLoader that turns each image into a PIL image
     and then a tensor (torchvision's ToTensor), for a few hundred steps;
  2. by the project's Trainer, a full run (10 epochs by default), with the test -ELBO at the end.
Every figure printed is measured in this run. Prints a table and writes bench/results/train_speed.json.

    .venv/bin/python -m bench.train_speed [--epochs 10] [--baseline-steps 300]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torchvision.transforms import ToTensor

from vae.cli.tables import format_table
from vae.data import load_dataset
from vae.losses import vae_loss
from vae.models import PRESETS, build_model, config_from_dict
from vae.training import TrainConfig, Trainer


class PilDataset(Dataset):
    """What torchvision's MNIST does per item: uint8 -> PIL image -> ToTensor."""

    def __init__(self, images):
        self.images, self.to_tensor = images, ToTensor()

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        return self.to_tensor(Image.fromarray(self.images[i, 0], mode="L")), 0


def baseline_images_per_s(images, steps: int) -> float:
    """Images/s of the classic model trained from a DataLoader with per-image PIL + ToTensor."""
    torch.manual_seed(0)
    model = build_model(config_from_dict(dict(PRESETS["classic"])))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loader = DataLoader(PilDataset(images), batch_size=128, shuffle=True)
    started, seen = time.perf_counter(), 0
    for step, (x, _) in enumerate(loader):
        if step == steps:
            break
        out = model(x)
        loss = vae_loss(out.logits, x, out.mu, out.logvar).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        seen += len(x)
    return seen / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--baseline-steps", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    data = load_dataset("fashion-mnist")
    baseline = baseline_images_per_s(data.train_images, args.baseline_steps)
    torch.manual_seed(args.seed)
    model = build_model(config_from_dict(dict(PRESETS["classic"])))
    config = TrainConfig(epochs=args.epochs, batch_size=128, lr=1e-3, seed=args.seed, device="cpu")
    result = Trainer(model, config, data.train_images, data.test_images).fit()
    rates = [h["images_per_s"] for h in result.history]
    ours = statistics.median(rates)
    final = result.history[-1]["test_neg_elbo"]
    rows = [
        ("DataLoader + PIL per image (pytorch/examples feed), this run", round(baseline), "-", 1.0),
        ("vae Trainer, median epoch, this run", round(ours), round(final, 2), round(ours / baseline, 2)),
    ]
    print(format_table(["loop", "train images/s", f"test -ELBO @{args.epochs} ep", "speed-up"], rows))
    out = Path(__file__).resolve().parent / "results" / "train_speed.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({
        "model": "classic mlp 784-400-20", "batch_size": 128, "device": "cpu",
        "threads": torch.get_num_threads(), "torch": torch.__version__, "machine": platform.machine(),
        "epochs": args.epochs, "seed": args.seed,
        "baseline_images_per_s": baseline, "trainer_images_per_s_median": ours,
        "trainer_images_per_s_per_epoch": rates, "speedup": ours / baseline,
        "test_neg_elbo": final, "history": result.history,
    }, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
