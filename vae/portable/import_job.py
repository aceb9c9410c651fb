"""An import started from the app: `vae-lab import` in its own process, followed through its progress file.

The uploads, the progress JSON lines and the log live in a hidden folder beside the bundles
(`<root>/.imports/<id>/`, never listed); the bundle appears only when the CLI commits it. An import
may be cancelled, and one still running after IMPORT_TIMEOUT_S is stopped: SIGTERM to its process
group, which holds the CLI and the child that runs a graph for the first time.

On a Ray engine (`vae-lab serve --jobs ray`) the check and the import are Ray jobs instead
(vae/portable/ray_import.py): the same command lines, the same workspace (the training folder is shared
with the cluster's nodes), followed through the engine and stopped with Ray's stop.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from vae import progress_log
from vae.cli.errors import error_line
from vae.commands import CLI, PACKAGE_ROOT, python_module
from vae.job_engine import RAY, JobEngine
from vae.training.jobs import tail

if TYPE_CHECKING:
    from vae.portable.ray_import import RayImportJob

IMPORTS = ".imports"
PROGRESS = "progress.jsonl"
LOG = "log.txt"
IMPORT_TIMEOUT_S = 30 * 60  # checking, encoding and mapping take minutes at most; longer means stuck
CANCELLED = "cancelled"
TIMED_OUT = "timed out"


def new_workspace(root: Path) -> Path:
    """A fresh hidden folder for one import's uploads and logs."""
    folder = root / IMPORTS / uuid.uuid4().hex[:12]
    folder.mkdir(parents=True)
    return folder


@dataclass
class ImportJob:
    """One running or finished import process."""

    workspace: Path
    out: Path
    process: subprocess.Popen
    stopped: str | None = None  # CANCELLED or TIMED_OUT once a stop was sent

    def __post_init__(self) -> None:
        timer = threading.Timer(IMPORT_TIMEOUT_S, self.stop, args=(TIMED_OUT,))
        timer.daemon = True
        timer.start()

    def stop(self, reason: str = CANCELLED) -> None:
        """SIGTERM to the import's process group (it runs in its own session); `reason` is shown."""
        if not self.running:
            return
        self.stopped = reason
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass  # it ended meanwhile

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def progress(self) -> dict[str, tuple[int, int]]:
        """The latest (done, total) of each stage so far, in the order the stages began."""
        return progress_log.read(self.workspace / PROGRESS)

    def outcome(self) -> tuple[str, str]:
        """("running" | "completed" | "cancelled" | "refused", message): the CLI's one-line reason when refused."""
        if self.running:
            return "running", ""
        return import_outcome(self.out, self.process.returncode == 0, self.stopped, tail(self.workspace / LOG),
                              f"the import stopped (exit code {self.process.returncode})")

    def wait(self, timeout: float) -> None:
        self.process.wait(timeout)

    def clean_up(self) -> None:
        """Remove the uploads and logs once the outcome has been read."""
        if not self.running:
            shutil.rmtree(self.workspace, ignore_errors=True)


def import_outcome(out: Path, succeeded: bool, stopped: str | None, log: str, failure: str) -> tuple[str, str]:
    """(status, message) of an ended import, on any engine: `failure` where its log names no reason."""
    if succeeded:
        return "completed", f"bundle written: {out.name}"
    if stopped == CANCELLED:
        return "cancelled", "the import was cancelled; nothing was written"
    if stopped == TIMED_OUT:
        return "refused", f"the import ran longer than {IMPORT_TIMEOUT_S / 60:g} minutes and was stopped"
    return "refused", error_line(log) or failure


def import_argv(route_args: list[str], out: Path, workspace: Path) -> list[str]:
    """`vae-lab import ROUTE_ARGS --out OUT`, its progress into the workspace (after `python -m`)."""
    return [CLI, "import", *route_args, "--out", str(out), "--progress-file", str(workspace / PROGRESS)]


def start_import(route_args: list[str], out: Path, workspace: Path,
                 engine: JobEngine | None = None) -> ImportJob | RayImportJob:
    """Start the import on the chosen engine: its ImportJob here, or its RayImportJob on a Ray cluster."""
    if engine is not None and engine.kind == RAY:
        from vae.portable.ray_import import start_on_ray  # Ray is imported only once it is chosen

        return start_on_ray(engine.ray_address, route_args, out, workspace)
    return _start_here(route_args, out, workspace)


def _start_here(route_args: list[str], out: Path, workspace: Path) -> ImportJob:
    """Run the import (as `python -m vae.cli`) in its own process (own session: a page reload does not stop it)."""
    argv = python_module(*import_argv(route_args, out, workspace))
    with (workspace / LOG).open("wb") as log:
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   cwd=PACKAGE_ROOT, start_new_session=True)
    return ImportJob(workspace, out, process)


DETECT_TIMEOUT_S = 180  # running a model on 256 images, twice: seconds; longer means stuck


class CheckFailed(ValueError):
    """The model could not be checked; the message is the CLI's one-line reason."""


def detect_conventions(route_args: list[str], workspace: Path, engine: JobEngine | None = None) -> dict:
    """Run `vae-lab import ROUTE_ARGS --detect-only` in its own process, or as a job on a Ray cluster (time-bounded,
    as the import is); the conventions it found: {"spec": ..., "findings": {name: {"value", "how"}}, ...}."""
    if engine is not None and engine.kind == RAY:
        from vae.portable.ray_import import detect_on_ray

        return detect_on_ray(engine.ray_address, route_args, workspace)
    argv = python_module(CLI, "import", *route_args, "--detect-only")
    try:
        done = subprocess.run(argv, capture_output=True, text=True, cwd=PACKAGE_ROOT, stdin=subprocess.DEVNULL,
                              timeout=DETECT_TIMEOUT_S, start_new_session=True)
    except subprocess.TimeoutExpired as exc:
        raise CheckFailed(f"running the model took longer than {DETECT_TIMEOUT_S} s") from exc
    (workspace / LOG).write_text(done.stderr, encoding="utf-8")
    if done.returncode != 0:
        raise CheckFailed(error_line(done.stderr) or f"the check stopped (exit code {done.returncode})")
    return check_result(done.stdout)


def check_result(output: str) -> dict:
    """The check's result: the last line of its output that is a JSON object; CheckFailed without one."""
    for line in reversed(output.strip().splitlines()):
        try:
            found = json.loads(line)
        except ValueError:
            continue
        if isinstance(found, dict):
            return found
    raise CheckFailed("the check printed no result")
