r"""Import a VAE trained elsewhere (PyTorch, pythae, ONNX) as a portable bundle the explorer opens.

    vae-lab import torch --model examples/pytorch_vae.py:VAE --weights fashion_vae.pt \
        --dataset fashion-mnist --out checkpoints/my-vae
    vae-lab import pythae path/to/final_model --dataset fashion-mnist --out checkpoints/my-pythae
    vae-lab import onnx --encoder enc.onnx --decoder dec.onnx --spec spec.json \
        --dataset images.npz --out checkpoints/my-keras-vae

--dataset is a dataset the trainer knows (its test split is mapped) or a .npy / .npz of images.
The model's conventions (input range and layout, posterior form, output kind, latent shape) are
found by running it on those images; a flag names one where it cannot be told. Each route's
--help lists its options.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from tqdm import tqdm

from vae import progress_log
from vae.bundle import CONFIG
from vae.data import DataFileError, DatasetNotFoundError
from vae.losses import LIKELIHOODS
from vae.portable.build import ImportRefused, Progress
from vae.portable.onnx_check import GraphError
from vae.portable.pipeline import CONVENTIONS, DEFAULT_IWAE_IMAGES, DEFAULT_IWAE_K, ImportRequest, run_import
from vae.portable.spec import INPUT_LAYOUTS, INPUT_RANGES, OUTPUT_KINDS, POSTERIORS, SpecError

EXIT_OK, EXIT_REFUSED = 0, 2


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", required=True, help="a dataset name (fashion-mnist, mnist, ...) or a .npy/.npz file")
    p.add_argument("--data-dir", help="where the dataset's files are (as for training)")
    p.add_argument("--labels", help="a .npy of integer labels for a .npy of images")
    p.add_argument("--class-names", help="comma-separated class names")
    p.add_argument("--limit", type=int, help="map only the first N images")
    p.add_argument("--out", type=Path, help="the bundle folder to create (required unless --detect-only)")
    p.add_argument("--detect-only", action="store_true",
                   help="run the model on the images, print the conventions found as JSON, write nothing")
    p.add_argument("--name", help="display name (default: the folder name)")
    p.add_argument("--overwrite", action="store_true", help="replace a bundle already at --out")
    p.add_argument("--no-umap", action="store_true", help="only the PCA map (UMAP takes about a minute)")
    p.add_argument("--channels", type=int, choices=(1, 3),
                   help="give the model grey (1) or RGB (3) images: the data's converted")
    p.add_argument("--iwae-k", type=int, default=DEFAULT_IWAE_K,
                   help=f"importance samples for the IWAE estimate (0 skips; default {DEFAULT_IWAE_K})")
    p.add_argument("--iwae-images", type=int, default=DEFAULT_IWAE_IMAGES,
                   help=f"images for the IWAE estimate (default {DEFAULT_IWAE_IMAGES})")
    p.add_argument("--progress-file", type=Path, help="also append progress as JSON lines (stage, done, total)")


def _likelihood(p: argparse.ArgumentParser, shown: str) -> None:
    p.add_argument("--likelihood", choices=LIKELIHOODS, help=f"p(x|z) the metrics use (default {shown})")
    p.add_argument("--gaussian-sigma", type=float,
                   help="σ of a Gaussian likelihood, in [0, 1] pixel units (default: fitted to the reconstructions)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    routes = parser.add_subparsers(dest="route", required=True)
    torch_route = routes.add_parser("torch", help="any torch.nn.Module built by your factory, with its weights")
    torch_route.add_argument("--model", required=True,
                             help="path/to/file.py:Class (or a factory function), loaded inside its package")
    torch_route.add_argument("--weights", required=True,
                             help=".safetensors, a state-dict .pt, or a checkpoint holding one (Lightning's too)")
    torch_route.add_argument("--factory-kwargs", default="{}",
                             help='constructor arguments as JSON, e.g. \'{"in_channels": 3, "latent_dim": 128}\'')
    torch_route.add_argument("--encode-method", default="encode", help="x -> the posterior (default encode)")
    torch_route.add_argument("--decode-method", default="decode", help="z -> images (default decode)")
    _convention_flags(torch_route)
    torch_route.add_argument("--latent-dim", type=int, help="checked against what the encoder gives")
    _likelihood(torch_route, "Bernoulli for logits and probabilities, Gaussian for pixel values")
    _common(torch_route)
    pythae_route = routes.add_parser("pythae", help="a folder saved by a pythae model (needs pip install pythae)")
    pythae_route.add_argument("folder", type=Path)
    _likelihood(pythae_route, "what the pythae model was trained with")
    _common(pythae_route)
    onnx_route = routes.add_parser("onnx", help="an encoder/decoder pair exported by any framework, and a JSON spec")
    onnx_route.add_argument("--encoder", type=Path, required=True)
    onnx_route.add_argument("--decoder", type=Path, required=True)
    onnx_route.add_argument("--spec", type=Path, help="optional JSON with any of: input_range, input_layout, "
                            "posterior, decoder_output, likelihood, gaussian_sigma, latent_dim, class_names "
                            "(flags override it)")
    _convention_flags(onnx_route)
    _likelihood(onnx_route, "Bernoulli for logits and probabilities, Gaussian for pixel values")
    _common(onnx_route)


def _convention_flags(p: argparse.ArgumentParser) -> None:
    """The model's conventions, each found by running it when not given."""
    for name, choices, what in (("input-range", INPUT_RANGES, "unit: [0, 1]; symmetric: [-1, 1]"),
                                ("input-layout", INPUT_LAYOUTS, "what encode takes: images or flat vectors"),
                                ("posterior", POSTERIORS, "what encode's second result is"),
                                ("decoder-output", OUTPUT_KINDS, "logits; probs in [0, 1]; means: unsquashed "
                                 "[0, 1] pixel values; symmetric: [-1, 1] values (Tanh)")):
        p.add_argument(f"--{name}", choices=choices, help=f"{what} (default: found by running the model)")


def tqdm_progress(log: Path | None = None) -> Progress:
    """A progress callback drawing one tqdm bar per stage (encoding, metrics, projection), and
    appending each update to `log` as a JSON line for a page to follow."""
    bars: dict[str, tqdm] = {}

    def progress(stage: str, done: int, total: int) -> None:
        if log is not None:
            progress_log.append(log, stage, done, total)
        bar = bars.get(stage)
        if bar is None:
            bar = bars[stage] = tqdm(total=total, desc=stage, unit="img" if stage == "encoding" else "step")
        bar.update(done - bar.n)
        if done >= total:
            bar.close()

    return progress


def run(args: argparse.Namespace) -> int:
    """Import, or print the one-line reason it was refused (exit status 2)."""
    if not 0 <= args.iwae_k <= 5000 or args.iwae_images < 1 or (args.limit is not None and args.limit < 1):
        print("error: --iwae-k must be 0..5000, --iwae-images and --limit at least 1", file=sys.stderr)
        return EXIT_REFUSED
    if args.out is None and not args.detect_only:
        print("error: --out is required: the bundle folder to create", file=sys.stderr)
        return EXIT_REFUSED
    if args.out is not None and (args.out / CONFIG).exists() and not args.overwrite:
        print(f"error: {args.out} already holds a bundle; pass --overwrite or choose another --out", file=sys.stderr)
        return EXIT_REFUSED
    try:
        outcome = run_import(request(args), tqdm_progress(args.progress_file))
    except (ImportRefused, GraphError, SpecError, DataFileError, DatasetNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    except OSError as exc:
        print(f"error: could not write the bundle to {args.out}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_REFUSED
    for name, finding in outcome.source.get("findings", {}).items():
        if finding["how"] != "given":
            print(f"found: {name} = {finding['value']} ({finding['how']})", file=sys.stderr)
    if outcome.source.get("load_note"):
        print(f"note: {outcome.source['load_note']}", file=sys.stderr)
    if outcome.bundle is None:
        print(json.dumps({"spec": outcome.spec.to_dict(), **outcome.source}))
    else:
        print(f"bundle written: {outcome.bundle}")
    return EXIT_OK


def request(args: argparse.Namespace) -> ImportRequest:
    """The parsed flags as the library's request (flags a route lacks stay at their defaults)."""
    given = {name: getattr(args, name, None) for name in CONVENTIONS}
    optional = {name: getattr(args, name) for name in ("model", "weights", "factory_kwargs", "encode_method",
                                                       "decode_method", "folder", "encoder", "decoder")
                if hasattr(args, name)}
    return ImportRequest(
        route=args.route, dataset=args.dataset, out=None if args.detect_only else args.out,
        spec_file=getattr(args, "spec", None), conventions=given, data_dir=args.data_dir, labels=args.labels,
        class_names=[n.strip() for n in args.class_names.split(",")] if args.class_names else None,
        limit=args.limit, channels=args.channels, name=args.name, iwae_k=args.iwae_k,
        iwae_images=args.iwae_images, umap=not args.no_umap, **optional)
