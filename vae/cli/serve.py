"""Serve the explorer app (Streamlit); Streamlit's own options, such as --server.port, pass through.

The app is the `ui` package, started as `python -m ui.serve`, which imports PyTorch and the pages'
modules before the first visitor arrives. This process becomes that one (exec), so signals and
the exit status are the server's; the library itself never imports Streamlit.
"""

from __future__ import annotations

import argparse
import os

from vae import job_engine
from vae.commands import APP_SERVER, python_module

DEFAULTS = ["--server.headless", "true", "--browser.gatherUsageStats", "false"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoints", action="append", default=[], metavar="DIR",
                        help="a folder of bundles to list besides checkpoints/ (repeatable)")
    parser.add_argument("--train-dir", metavar="DIR",
                        help="where the Train page writes bundles (default: $VAE_LAB_TRAIN_DIR, else "
                             "~/.local/share/vae-lab/checkpoints)")
    parser.add_argument("--jobs", choices=job_engine.KINDS,
                        help="where training jobs run: local processes (the default) or a Ray cluster "
                             f"(default: ray when ${job_engine.RAY_ADDRESS_VAR} is set)")
    parser.add_argument("--ray-address", metavar="URL",
                        help=f"the Ray head's dashboard, http://HEAD:8265 (default: ${job_engine.RAY_ADDRESS_VAR})")


def command(args: argparse.Namespace, streamlit_options: list[str]) -> list[str]:
    """The `python -m ui.serve` command line: defaults, the user's Streamlit options, the app's own."""
    app_args = [arg for folder in args.checkpoints for arg in ("--checkpoints", os.path.abspath(folder))]
    if args.train_dir:
        app_args += ["--train-dir", os.path.abspath(args.train_dir)]
    for flag, value in (("--jobs", args.jobs), ("--ray-address", args.ray_address)):
        app_args += [flag, value] if value else []
    return python_module(APP_SERVER, *DEFAULTS, *streamlit_options, *(["--", *app_args] if app_args else []))


def run(args: argparse.Namespace, streamlit_options: list[str]) -> int:
    job_engine.choose(args.jobs, args.ray_address)  # a ValueError (Ray without an address) before the server starts
    argv = command(args, streamlit_options)
    os.execv(argv[0], argv)
    return 0  # not reached: exec replaced this process
