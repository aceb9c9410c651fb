"""Training speed of the conv z16 VAE on the CPU: the project's Trainer against a bare eager loop of the
same network (the anchor), and the settings that might make it faster.

The network is the shipped `fashion-mnist-conv-z16` (conv 32-64, dense 256, a full-resolution
decoder stage, SiLU), fresh weights, batch 128, Adam 1e-3, on the first `--images` Fashion-MNIST
training images. Each row is one pass over those images, every step timed (the first included:
a compiled model pays its compilation there, reported apart), run round-robin `--repeats` times
so that the machine's load drifts across all rows alike; medians.

  - bare eager loop (anchor): index a batch, `model(x)`, the loss, `zero_grad`, `backward`, `step`;
  - the Trainer (its evaluation is not timed: images/s of training only) as it runs by default
    (`cpu_threads` 0: each epoch times its first steps at one thread and at one per core, and
    goes on with the faster), at one thread per core (as it ran before), and at one thread;
  - each setting on the bare loop: channels_last (weights and batches), `torch.compile`
    (inductor), one intra-op thread (`torch.set_num_threads(1)`); channels_last on the Trainer too.
Prints a table and writes bench/results/conv_train_speed.json.

    .venv/bin/python -m bench.conv_train_speed [--images 5120] [--repeats 3] [--no-compile]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

import torch

from vae.bundle import read_config
from vae.cli.tables import format_table
from vae.data import load_dataset
from vae.losses import vae_loss
from vae.models import build_model, config_from_dict
from vae.training import TrainConfig, Trainer

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "checkpoints" / "fashion-mnist-conv-z16"
BATCH = 128


def fresh_model(setting: str) -> torch.nn.Module:
    torch.manual_seed(0)
    model = build_model(config_from_dict(dict(read_config(SHIPPED)["model"])))
    return model.to(memory_format=torch.channels_last) if setting == "channels_last" else model


def bare_loop(images: torch.Tensor, setting: str) -> dict[str, float]:
    """Images/s of one pass of a plain PyTorch training loop (and the first step's seconds)."""
    model = fresh_model(setting)
    forward = torch.compile(model) if setting == "compile" else model
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(0))
    started = time.perf_counter()
    first = 0.0
    for step, start in enumerate(range(0, len(images), BATCH)):
        x = images[order[start:start + BATCH]].float().div_(255)  # (B, 1, 28, 28)
        if setting == "channels_last":
            x = x.contiguous(memory_format=torch.channels_last)
        out = forward(x)
        loss = vae_loss(out.logits, x, out.mu, out.logvar).loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if step == 0:
            first = time.perf_counter() - started
    return {"images_per_s": len(images) / (time.perf_counter() - started), "first_step_s": first}


def trainer_run(images: torch.Tensor, test: torch.Tensor, setting: str) -> dict[str, float]:
    """Images/s of one Trainer epoch on the same images (training only, as its history reports)."""
    model = fresh_model(setting)
    # cpu_threads 0 (the default) times one thread against one per core at each epoch's start.
    threads = {"all_cores": torch.get_num_threads(), "one_thread": 1}.get(setting, 0)
    config = TrainConfig(epochs=1, batch_size=BATCH, lr=1e-3, seed=0, device="cpu", eval_batch_size=len(test))
    trainer = Trainer(model, config, images, test, cpu_threads=threads)
    record = trainer.fit().history[-1]
    return {"images_per_s": record["images_per_s"], "first_step_s": float("nan"), "threads": trainer.threads.chosen}


def run_row(kind: str, setting: str, images: torch.Tensor, test: torch.Tensor) -> dict[str, float]:
    if kind == "trainer":
        return trainer_run(images, test, setting)
    threads = torch.get_num_threads()
    if setting == "one_thread":
        torch.set_num_threads(1)
    try:
        return bare_loop(images, setting)
    finally:
        torch.set_num_threads(threads)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=5120)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-compile", action="store_true", help="leave torch.compile out (minutes to compile)")
    args = parser.parse_args()
    data = load_dataset("fashion-mnist")
    images = torch.as_tensor(data.train_images[:args.images])
    test = torch.as_tensor(data.test_images[:500])
    settings = ["default", "channels_last", "one_thread"] + ([] if args.no_compile else ["compile"])
    rows = [("bare", "default"), ("trainer", "default")]
    rows += [("bare", s) for s in settings[1:]] + [("trainer", s) for s in ("all_cores", "one_thread", "channels_last")]
    runs: dict[str, list[dict]] = {f"{kind}/{setting}": [] for kind, setting in rows}
    load = []
    for repeat in range(args.repeats):
        load.append(os.getloadavg()[0])
        for kind, setting in rows:
            result = run_row(kind, setting, images, test)
            runs[f"{kind}/{setting}"].append(result)
            print(f"[{repeat + 1}/{args.repeats}] {kind} {setting}: {result['images_per_s']:.0f} img/s"
                  + (f" ({result['threads']} threads)" if "threads" in result else ""), flush=True)
        report(runs, load, args)  # after every round: a run stopped early still leaves its medians


def report(runs: dict[str, list[dict]], load: list[float], args: argparse.Namespace) -> None:
    """Print the table of medians so far and write bench/results/conv_train_speed.json."""
    summary = {label: {"images_per_s": statistics.median(r["images_per_s"] for r in results),
                       "first_step_s": statistics.median(r["first_step_s"] for r in results)}
               for label, results in runs.items()}
    anchor = summary["bare/default"]["images_per_s"]
    table = [(label.replace("/", ", "), f"{s['images_per_s']:.0f}", f"{s['images_per_s'] / anchor:.2f}x",
              "-" if s["first_step_s"] != s["first_step_s"] else f"{s['first_step_s']:.2f}")
             for label, s in summary.items()]
    rounds = len(runs["bare/default"])
    print(f"\nconv z16 (shipped architecture, fresh weights), batch {BATCH}, {args.images:,} images a pass, "
          f"{torch.get_num_threads()} threads; medians of {rounds}; load average "
          f"{statistics.median(load):.1f} on {os.cpu_count()} cores")
    print(format_table(["loop, setting", "train images/s", "vs bare eager loop", "first step s"], table))
    out = ROOT / "bench" / "results" / "conv_train_speed.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({
        "model": read_config(SHIPPED)["model"], "batch_size": BATCH, "images": args.images, "device": "cpu",
        "threads": torch.get_num_threads(), "interop_threads": torch.get_num_interop_threads(),
        "torch": torch.__version__, "machine": platform.machine(), "cpus": os.cpu_count(), "load_average": load,
        "rounds": rounds, "summary": summary, "runs": runs, "when": time.strftime("%Y-%m-%d %H:%M:%S"),
    }, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
