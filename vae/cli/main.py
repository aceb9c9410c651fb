"""`vae-lab`: one command with sub-commands, each defined in its own module of this package.

    vae-lab serve [--checkpoints DIR]... [Streamlit options such as --server.port 8502]
    vae-lab train --dataset fashion-mnist --arch conv --latent-dim 16 --out checkpoints/my-conv
    vae-lab evaluate checkpoints/my-conv --iwae-k 1000
"""

from __future__ import annotations

import argparse
import logging
import sys

from vae.cli import evaluate, serve, train
from vae.cli.errors import fail

COMMANDS = {"serve": serve, "train": train, "evaluate": evaluate}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vae-lab", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True, metavar="{" + ",".join(COMMANDS) + "}")
    for name, module in COMMANDS.items():
        summary = module.__doc__.strip().splitlines()[0]
        sub = commands.add_parser(name, help=summary, description=module.__doc__,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
        module.add_arguments(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run one sub-command; returns its exit status."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    parser = build_parser()
    args, passed_on = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
    if passed_on and args.command != "serve":  # only Streamlit's own options pass through
        parser.error(f"unrecognized arguments: {' '.join(passed_on)}")
    if args.command == "serve":
        return serve.run(args, passed_on)
    try:
        return COMMANDS[args.command].run(args)
    except (OSError, ValueError) as exc:  # a file or value the command met late (a read-only disk...)
        return fail(exc)


if __name__ == "__main__":
    sys.exit(main())
