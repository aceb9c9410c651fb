"""The shipped 16-D conv model, native (PyTorch) vs portable (ONNX graphs on onnxruntime), on the server.

Decode time per call at batch 1 and 64 (one intra-op thread each, as the app runs them; the two
alternate call by call so both see the same machine load), and the time a `torch` import of
the same model takes over the 10,000 test images, in a fresh process as a user runs it: with and
without the UMAP map. Prints a table and writes bench/results/portable.json.

    .venv/bin/python -m bench.portable [--calls 200] [--skip-import]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from vae.bundle import load_bundle
from vae.cli.tables import format_table
from vae.portable.build import portable_from_torch
from vae.portable.data import MapData
from vae.portable.spec import ImportSpec

ROOT = Path(__file__).resolve().parent.parent

BUNDLE = ROOT / "checkpoints" / "fashion-mnist-conv-z16"
FACTORY = """
import json
from vae.models import build_model, config_from_dict

def build():
    return build_model(config_from_dict(json.load(open({config!r}))["model"]))
"""


def decode_times(native: torch.nn.Module, portable: torch.nn.Module, batch: int, calls: int) -> dict[str, float]:
    """Median ms per decode call, the two models interleaved call by call."""
    z = torch.randn(batch, native.latent_dim, generator=torch.Generator().manual_seed(0))
    times: dict[str, list[float]] = {"torch": [], "onnxruntime": []}
    with torch.no_grad():
        for _ in range(10):
            native.decode(z), portable.decode(z)
        for _ in range(calls):
            for name, model in (("torch", native), ("onnxruntime", portable)):
                started = time.perf_counter()
                model.decode(z)
                times[name].append((time.perf_counter() - started) * 1000)
    return {name: statistics.median(values) for name, values in times.items()}


def import_time(folder: Path, umap: bool) -> float:
    """Seconds for `vae-lab import torch ...` on the shipped weights, 10,000 test images."""
    (folder / "factory.py").write_text(FACTORY.format(config=str(BUNDLE / "config.json")))
    out = folder / ("with-umap" if umap else "pca-only")
    args = [sys.executable, "-m", "vae.cli", "import", "torch", "--model", f"{folder / 'factory.py'}:build",
            "--weights", str(BUNDLE / "model.safetensors"), "--decode-method", "decode_logits",
            "--dataset", "fashion-mnist", "--out", str(out), "--iwae-k", "0", *([] if umap else ["--no-umap"])]
    started = time.perf_counter()
    subprocess.run(args, cwd=ROOT, check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--skip-import", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    bundle = load_bundle(BUNDLE)
    native = bundle.model
    data = MapData("fashion-mnist", bundle.images[:512], bundle.labels[:512], bundle.class_names)
    portable, _, record = portable_from_torch(native, native.encode, native.decode_logits, ImportSpec(), data)
    results: dict = {"parity": record["parity"], "decode_ms": {}, "threads": 1, "calls": args.calls}
    for batch in (1, 64):
        results["decode_ms"][batch] = decode_times(native, portable, batch, args.calls)
    rows = [(f"decode, batch {b}", round(t["torch"], 3), round(t["onnxruntime"], 3),
             round(t["torch"] / t["onnxruntime"], 2)) for b, t in results["decode_ms"].items()]
    print(format_table(["server (1 thread)", "torch ms", "onnxruntime ms", "torch / ort"], rows))
    if not args.skip_import:
        with tempfile.TemporaryDirectory() as folder:
            results["import_s"] = {"pca only": import_time(Path(folder), umap=False),
                                   "with UMAP": import_time(Path(folder), umap=True)}
        print(format_table(["import of the z16, 10,000 test images (fresh process)", "s"],
                           [(k, round(v, 1)) for k, v in results["import_s"].items()]))
    out = ROOT / "bench" / "results" / "portable.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
