"""An import started from the app: `vae-lab import` in its own process, followed through its progress file.

The uploads, the progress JSON lines and the log live in a hidden folder beside the bundles
(`<root>/.imports/<id>/`, never listed); the bundle appears only when the CLI commits it. An import
may be cancelled, and one still running after IMPORT_TIMEOUT_S is stopped: SIGTERM to its process
group, which holds the CLI and the child that runs a graph for the first time.
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

from vae.commands import CLI, PACKAGE_ROOT, python_module

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
        stages: dict[str, tuple[int, int]] = {}
        file = self.workspace / PROGRESS
        if file.is_file():
            for line in file.read_text(encoding="utf-8").splitlines():
                try:
                    record = json.loads(line)
                    stages[str(record["stage"])] = (int(record["done"]), int(record["total"]))
                except (ValueError, KeyError, TypeError):
                    continue  # a line being written
        return stages

    def outcome(self) -> tuple[str, str]:
        """("running" | "completed" | "cancelled" | "refused", message): the CLI's one-line reason when refused."""
        if self.running:
            return "running", ""
        log = (self.workspace / LOG).read_text(encoding="utf-8", errors="replace") if (
            self.workspace / LOG).is_file() else ""
        if self.process.returncode == 0:
            return "completed", f"bundle written: {self.out.name}"
        if self.stopped == CANCELLED:
            return "cancelled", "the import was cancelled; nothing was written"
        if self.stopped == TIMED_OUT:
            return "refused", f"the import ran longer than {IMPORT_TIMEOUT_S / 60:g} minutes and was stopped"
        errors = [line.removeprefix("error: ") for line in log.splitlines() if line.startswith("error: ")]
        return "refused", errors[-1] if errors else f"the import stopped (exit code {self.process.returncode})"

    def wait(self, timeout: float) -> None:
        self.process.wait(timeout)

    def clean_up(self) -> None:
        """Remove the uploads and logs once the outcome has been read."""
        if not self.running:
            shutil.rmtree(self.workspace, ignore_errors=True)


def start_import(route_args: list[str], out: Path, workspace: Path) -> ImportJob:
    """Run `vae-lab import ROUTE_ARGS --out OUT` (as `python -m vae.cli`) in its own process (own session: a page
    reload does not stop it)."""
    argv = python_module(CLI, "import", *route_args, "--out", str(out), "--progress-file", str(workspace / PROGRESS))
    with (workspace / LOG).open("wb") as log:
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   cwd=PACKAGE_ROOT, start_new_session=True)
    return ImportJob(workspace, out, process)


DETECT_TIMEOUT_S = 180  # running a model on 256 images, twice: seconds; longer means stuck


class CheckFailed(ValueError):
    """The model could not be checked; the message is the CLI's one-line reason."""


def detect_conventions(route_args: list[str], workspace: Path) -> dict:
    """Run `vae-lab import ROUTE_ARGS --detect-only` in its own process (time-bounded, as the import is);
    the conventions it found: {"spec": ..., "findings": {name: {"value", "how"}}, "pixel_rmse": ...}."""
    argv = python_module(CLI, "import", *route_args, "--detect-only")
    try:
        done = subprocess.run(argv, capture_output=True, text=True, cwd=PACKAGE_ROOT, stdin=subprocess.DEVNULL,
                              timeout=DETECT_TIMEOUT_S, start_new_session=True)
    except subprocess.TimeoutExpired as exc:
        raise CheckFailed(f"running the model took longer than {DETECT_TIMEOUT_S} s") from exc
    (workspace / LOG).write_text(done.stderr, encoding="utf-8")
    if done.returncode != 0:
        errors = [line.removeprefix("error: ") for line in done.stderr.splitlines() if line.startswith("error: ")]
        raise CheckFailed(errors[-1] if errors else f"the check stopped (exit code {done.returncode})")
    try:
        return json.loads(done.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError) as exc:
        raise CheckFailed("the check printed no result") from exc
