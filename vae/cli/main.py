"""`vae-lab`: one command with sub-commands, each defined in its own module of this package.

    vae-lab serve [--checkpoints DIR]... [Streamlit options such as --server.port 8502]
    vae-lab train --dataset fashion-mnist --arch conv --latent-dim 16 --out checkpoints/my-conv
    vae-lab evaluate checkpoints/my-conv --iwae-k 1000
    vae-lab import torch --model my_vae.py:VAE --weights my_vae.pt --dataset fashion-mnist --out checkpoints/mine
    vae-lab export checkpoints/my-conv --out site/
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from vae.cli.errors import fail

# name: (module, summary). Only the chosen command's module is imported: `serve` starts the app at
# once instead of first importing PyTorch for the training options it does not use.
COMMANDS = {
    "serve": ("vae.cli.serve", "serve the explorer app; Streamlit's own options (--server.port ...) pass through"),
    "train": ("vae.cli.train", "train a VAE and write a bundle"),
    "evaluate": ("vae.cli.evaluate", "evaluate a bundle on its own test images (--save records the metrics)"),
    "import": ("vae.cli.import_model", "turn a VAE trained elsewhere (PyTorch, pythae, ONNX) into a portable bundle"),
    "export": ("vae.cli.export", "a bundle as a static site (map, images, live decoding) for any static host"),
}


def build_parser(command: str | None = None):
    """The parser, with the arguments of `command` (the others are listed by name and summary)."""
    parser = argparse.ArgumentParser(prog="vae-lab", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True, metavar="{" + ",".join(COMMANDS) + "}")
    module = None
    for name, (path, summary) in COMMANDS.items():
        sub = commands.add_parser(name, help=summary, formatter_class=argparse.RawDescriptionHelpFormatter)
        if name == command:
            module = importlib.import_module(path)
            sub.description = module.__doc__
            module.add_arguments(sub)
    return parser, module


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run one sub-command; returns its exit status."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    argv = sys.argv[1:] if argv is None else argv
    parser, module = build_parser(next((a for a in argv if not a.startswith("-")), None))
    args, passed_on = parser.parse_known_args(argv)
    if args.command == "serve":  # Streamlit's own options pass through
        return module.run(args, passed_on)
    if passed_on:
        parser.error(f"unrecognized arguments: {' '.join(passed_on)}")
    try:
        return module.run(args)
    except (OSError, ValueError) as exc:  # a file or value the command met late (a read-only disk...)
        return fail(exc)


if __name__ == "__main__":
    sys.exit(main())
