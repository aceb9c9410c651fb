"""Training jobs started from the UI: one at a time per checkpoints folder, in their own process.

A job is the project's own training CLI (`vae-lab train`, started as `python -m vae.cli train`) run
in a new process session, writing into `<root>/<name>/`. Its state lives in `<root>/.jobs/current.json`, so any tab, any
page reload and any server process sees the same job. Whether it still runs is read from the
operating system, never trusted from the file: a job whose process is gone without having
written its final event is marked failed (killed, crashed, or its server restarted).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import re
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, make_dataclass
from pathlib import Path
from typing import Any

from vae.commands import CLI, PACKAGE_ROOT, python_module
from vae.data import dataset_names, is_available_offline
from vae.data.own import is_own_source
from vae.device import available_devices
from vae.files import read_regular, read_tail
from vae.training import events as ev
from vae.training import options
from vae.training.events import read_events
from vae.training.options import FORM_OPTIONS
from vae.training.processes import process_alive, process_start_time

log = logging.getLogger(__name__)

JOBS_DIR = ".jobs"
STATE_FILE = "current.json"
LOG_FILE = "train.log"
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
FINAL_STATUSES = ("completed", "cancelled", "failed")
MAX_STATE_BYTES = 1 * 2**20

class JobRefused(RuntimeError):
    """A job that cannot start now (another one runs, or the request is invalid)."""


class _RequestChecks:
    """What a user asks for on the Train page; `validate` gives one message per bad field."""

    def validate(self, root: Path, devices: list[str] | None = None) -> dict[str, str]:
        """Field name -> problem, empty when the request can start."""
        values = asdict(self)
        errors = options.problems(values)
        try:
            run_directory(root, values.pop("name"))
        except ValueError as exc:
            errors["name"] = str(exc)
        if self.dataset not in dataset_names() and not is_own_source(self.dataset):
            errors["dataset"] = f"unknown dataset {self.dataset!r}"
        if "kl_warmup_epochs" not in errors and "epochs" not in errors and self.kl_warmup_epochs > self.epochs:
            errors["kl_warmup_epochs"] = (f"warm-up ({self.kl_warmup_epochs:g} epochs) is longer than training "
                                          f"({self.epochs})")
        if self.device not in (devices or available_devices()):
            errors["device"] = f"device {self.device!r} is not available here"
        return errors

    def argv(self, out: Path) -> list[str]:
        """The training command line (same interpreter, same project)."""
        return python_module(CLI, "train", *options.command_line(asdict(self)), "--out", str(out))


# The request holds the Train form's options with their defaults; `name` has none (it must be given).
TrainRequest = make_dataclass(
    "TrainRequest",
    [("name", str)] + [(o.name, o.type | None, field(default=o.default)) for o in FORM_OPTIONS if o.name != "name"],
    bases=(_RequestChecks,),
)


def make_ignored(root: Path) -> None:
    """Create `root` with a `.gitignore` of `*`: trained bundles never end up in a commit by accident."""
    if not root.exists():
        root.mkdir(parents=True)
        (root / ".gitignore").write_text("# bundles trained by VAE Lab: not for version control\n*\n")


def run_directory(root: Path, name: str) -> Path:
    """`<root>/<name>` for a safe, new bundle name; ValueError otherwise (path traversal included)."""
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise ValueError("use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit")
    root = Path(root).resolve()
    path = (root / name).resolve()
    if path.parent != root:
        raise ValueError("the name must stay inside the checkpoints folder")
    if path.exists():
        raise ValueError(f"{name!r} already exists; choose another name")
    return path


@dataclass
class Job:
    """One training job as recorded in `.jobs/current.json`."""

    id: str
    name: str
    out: str
    pid: int
    pid_start: str  # the process' start time, so a reused pid is not mistaken for this job
    argv: list[str]
    request: dict[str, Any]
    started: float
    status: str = "running"  # running | completed | cancelled | failed
    message: str = ""
    cancel_requested: float | None = None
    ended: float | None = None
    bundle: str | None = None

    @property
    def running(self) -> bool:
        return self.status == "running"

    def problem(self) -> str | None:
        """What makes a state file read back unusable (the pages format these fields), or None."""
        number = (int, float)
        checks = {"id": str, "name": str, "out": str, "pid": int, "pid_start": str, "argv": list, "request": dict,
                  "started": number, "status": str, "message": str, "cancel_requested": (*number, type(None)),
                  "ended": (*number, type(None)), "bundle": (str, type(None))}
        wrong = [name for name, kind in checks.items()
                 if not isinstance(getattr(self, name), kind) or isinstance(getattr(self, name), bool)]
        if wrong:
            return f"wrong types: {', '.join(wrong)}"
        if self.status not in ("running", *FINAL_STATUSES) or not 0 < self.pid < 2**31:
            return "unknown status or pid"
        if not all(abs(t) < 1e11 for t in (self.started, self.cancel_requested or 0, self.ended or 0)):
            return "times out of range"
        return None

    @property
    def out_path(self) -> Path:
        return Path(self.out)


def outcome(events: list[dict[str, Any]], cancel_requested: bool, log_tail: str) -> tuple[str, str, str | None]:
    """(status, message, bundle path) of a finished run, from its events and log."""
    by_name = {e.get("event"): e for e in events}
    if ev.RUN_END in by_name:
        end = by_name[ev.RUN_END]
        return str(end.get("status", "failed")), str(end.get("message", "")), end.get("bundle")
    if ev.BUNDLE_SAVED in by_name:
        saved = by_name[ev.BUNDLE_SAVED]
        status = saved.get("status", "completed")
        return status, "the bundle was saved, but its UMAP map was not finished (PCA map only)", saved.get("path")
    if ev.TRAIN_END in by_name and by_name[ev.TRAIN_END].get("status") == "failed":
        return "failed", str(by_name[ev.TRAIN_END].get("message", "training failed")), None
    if cancel_requested:
        return "cancelled", "cancelled before the first epoch completed; no bundle was written", None
    detail = log_tail.strip().splitlines()[-1] if log_tail.strip() else ""
    if detail.startswith("error: "):
        return "failed", detail.removeprefix("error: "), None
    return "failed", ("the training process ended without finishing (killed, crashed, or its server "
                      "stopped); no bundle was written" + (f". Last output: {detail}" if detail else "")), None


def tail(path: Path, n_bytes: int = 4000) -> str:
    """The end of a text file, or '' when it does not exist or is not a regular file."""
    try:
        return read_tail(path, n_bytes).decode("utf-8", errors="replace")
    except OSError:
        return ""


@contextlib.contextmanager
def folder_lock(root: Path) -> Iterator[None]:
    """Hold `<root>/.jobs/lock`: one job's start (or state change) at a time per training folder."""
    make_ignored(root)
    (root / JOBS_DIR).mkdir(parents=True, exist_ok=True)
    with (root / JOBS_DIR / "lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class JobRegistry:
    """The training job of one checkpoints folder: start, follow, cancel. Safe across processes."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).resolve()
        self.dir = self.root / JOBS_DIR
        self.state_path = self.dir / STATE_FILE

    can_force_stop = True  # SIGKILL, for a job that does not stop after its step

    def _locked(self) -> contextlib.AbstractContextManager[None]:
        return folder_lock(self.root)

    def devices(self) -> list[str]:
        """The devices a job may ask for: this machine's."""
        return available_devices()

    def _read(self) -> Job | None:
        try:
            job = Job(**json.loads(read_regular(self.state_path, MAX_STATE_BYTES)))
        except FileNotFoundError:
            return None
        except (OSError, ValueError, TypeError, RecursionError) as exc:
            log.warning("ignoring unreadable job state %s (%s)", self.state_path, exc)
            return None
        problem = job.problem()
        if problem:
            log.warning("ignoring job state %s: %s", self.state_path, problem)
            return None
        return job

    def _write(self, job: Job) -> None:
        tmp = self.dir / f".{STATE_FILE}.{uuid.uuid4().hex[:8]}.tmp"
        tmp.write_text(json.dumps(asdict(job), indent=2), encoding="utf-8")
        os.replace(tmp, self.state_path)

    def _refresh(self, job: Job) -> Job:
        """Finalise a job whose process has gone; call with the lock held."""
        if not job.running or process_alive(job.pid, job.pid_start):
            return job
        events = read_events(job.out_path / ev.EVENTS_FILE)
        status, message, bundle = outcome(events, job.cancel_requested is not None, tail(job.out_path / LOG_FILE))
        job.status, job.message, job.bundle, job.ended = status, message, bundle, time.time()
        self._write(job)
        log.info("job %s ended: %s (%s)", job.id, status, message)
        return job

    def current(self) -> Job | None:
        """The latest job, its status brought up to date."""
        job = self._read()
        if job is None or not job.running:
            return job
        with self._locked():
            job = self._read()
            return self._refresh(job) if job else None

    def start(self, request: TrainRequest, devices: list[str] | None = None) -> Job:
        """Launch the training CLI for `request`; JobRefused if a job runs or the request is bad."""
        with self._locked():
            job = self._read()
            if job is not None and self._refresh(job).running:
                raise JobRefused(f"a training job is already running: {job.name!r} (started "
                                 f"{time.strftime('%H:%M:%S', time.localtime(job.started))}); "
                                 "wait for it or cancel it first")
            errors = request.validate(self.root, devices)
            if errors:
                raise JobRefused("; ".join(f"{k}: {v}" for k, v in errors.items()))
            out = run_directory(self.root, request.name)
            out.mkdir(parents=True)
            argv = request.argv(out)
            env = {**os.environ, "PYTHONUNBUFFERED": "1", "TQDM_DISABLE": "1"}
            with (out / LOG_FILE).open("ab") as log_file:
                proc = subprocess.Popen(argv, cwd=PACKAGE_ROOT, stdin=subprocess.DEVNULL, stdout=log_file,
                                        stderr=subprocess.STDOUT, env=env, start_new_session=True)
            # The server is the parent: a thread waits on the child so that it never lingers as a zombie.
            threading.Thread(target=proc.wait, daemon=True, name=f"reap-{proc.pid}").start()
            job = Job(id=uuid.uuid4().hex[:12], name=request.name, out=str(out), pid=proc.pid,
                      pid_start=process_start_time(proc.pid), argv=argv, request=asdict(request),
                      started=time.time())
            self._write(job)
            log.info("started job %s (pid %d): %s", job.id, proc.pid, " ".join(argv))
            return job

    def cancel(self, force: bool = False) -> Job | None:
        """SIGTERM the running job (it saves its last completed epoch); `force` sends SIGKILL."""
        with self._locked():
            job = self._read()
            if job is None or not self._refresh(job).running:
                return job
            try:
                os.killpg(job.pid, signal.SIGKILL if force else signal.SIGTERM)
            except ProcessLookupError:
                pass
            job.cancel_requested = job.cancel_requested or time.time()
            self._write(job)
            return job

    def wait(self, timeout: float) -> Job | None:
        """Poll until the job is no longer running or `timeout` seconds pass (tests, scripts)."""
        deadline = time.monotonic() + timeout
        job = self.current()
        while job is not None and job.running and time.monotonic() < deadline:
            time.sleep(0.2)
            job = self.current()
        return job


def dataset_choices() -> list[tuple[str, bool]]:
    """(dataset name, available offline now) for the registered datasets."""
    return [(name, is_available_offline(name)) for name in dataset_names() if not is_own_source(name)]
