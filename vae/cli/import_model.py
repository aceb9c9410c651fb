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

from vae.bundle import CONFIG
from vae.data import DataFileError, DatasetNotFoundError
from vae.losses import LIKELIHOODS
from vae.portable.build import ImportRefused, Progress, write_portable_bundle
from vae.portable.data import load_map_data
from vae.portable.onnx_check import GraphError
from vae.portable.spec import INPUT_LAYOUTS, INPUT_RANGES, OUTPUT_KINDS, POSTERIORS, ImportSpec, SpecError

EXIT_OK, EXIT_REFUSED = 0, 2
# IWAE-k on N images costs N*k decodes: k = 5 on 250 images keeps a 3x64x64 import of 10,000 images
# (AntixK's VanillaVAE at its default size) under two minutes on this 2-core CPU (bench/import_time.py:
# 107.5 s with no IWAE, 150.6 s with k = 20 on 500 images, 120.5 s with k = 5 on 500, 117.4 s with these).
DEFAULT_IWAE_K = 5
DEFAULT_IWAE_IMAGES = 250


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
            with log.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps({"stage": stage, "done": done, "total": total}) + "\n")
        bar = bars.get(stage)
        if bar is None:
            bar = bars[stage] = tqdm(total=total, desc=stage, unit="img" if stage == "encoding" else "step")
        bar.update(done - bar.n)
        if done >= total:
            bar.close()

    return progress


CONVENTIONS = ("input_range", "input_layout", "posterior", "decoder_output", "likelihood", "gaussian_sigma",
               "latent_dim")


def _spec_from_args(args: argparse.Namespace, spec: ImportSpec, input_shape: tuple[int, int, int]) -> ImportSpec:
    """The spec file's conventions (if any), each overridden by its flag, for images of `input_shape`."""
    for name in CONVENTIONS:
        if getattr(args, name, None) is not None:
            setattr(spec, name, getattr(args, name))
    spec.input_shape = input_shape
    spec.validate()
    return spec


def _factory_kwargs(text: str) -> dict:
    try:
        kwargs = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SpecError(f"--factory-kwargs is not JSON ({exc})") from exc
    if not isinstance(kwargs, dict):
        raise SpecError("--factory-kwargs must be a JSON object")
    return kwargs


def import_bundle(args: argparse.Namespace) -> Path | None:
    """Load the data, import by route, write the bundle (or with --detect-only print what was found);
    raises the refusals `run` reports."""
    spec = ImportSpec.from_file(args.spec) if getattr(args, "spec", None) else ImportSpec()
    class_names = [n.strip() for n in args.class_names.split(",")] if args.class_names else spec.class_names
    data = load_map_data(args.dataset, args.data_dir, args.labels, class_names or None, args.limit,
                         tuple(spec.input_shape), args.channels)
    if args.route == "torch":
        from vae.portable.importers.torch_module import import_torch

        spec = _spec_from_args(args, spec, data.input_shape)
        model, spec, source = import_torch(args.model, args.weights, spec, data, args.encode_method,
                                           args.decode_method, _factory_kwargs(args.factory_kwargs), args.detect_only)
    elif args.route == "pythae":
        from vae.portable.importers.pythae_folder import import_pythae

        model, spec, source = import_pythae(args.folder, data, args.likelihood, args.gaussian_sigma, args.detect_only)
    else:
        from vae.portable.importers.onnx_pair import import_onnx

        model, spec, source = import_onnx(args.encoder, args.decoder, _spec_from_args(args, spec, data.input_shape),
                                          data, args.detect_only)
    for name, finding in source.get("findings", {}).items():
        if finding["how"] != "given":
            print(f"found: {name} = {finding['value']} ({finding['how']})", file=sys.stderr)
    if source.get("load_note"):
        print(f"note: {source['load_note']}", file=sys.stderr)
    if model is None:
        print(json.dumps({"spec": spec.to_dict(), **source}))
        return None
    return write_portable_bundle(args.out, model, data, spec, source, args.name, args.iwae_k, args.iwae_images,
                                 umap=not args.no_umap, progress=tqdm_progress(args.progress_file))


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
        out = import_bundle(args)
    except (ImportRefused, GraphError, SpecError, DataFileError, DatasetNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    except OSError as exc:
        print(f"error: could not write the bundle to {args.out}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_REFUSED
    if out is not None:
        print(f"bundle written: {out}")
    return EXIT_OK
