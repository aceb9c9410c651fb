"""Training jobs on a Ray cluster (its Jobs API): submitted, followed, stopped and found again through the engine.

The job runs the same command a local job runs (`python -m vae.cli train ... --out <root>/<name>`), or torchrun
around it for data-parallel workers, on whichever node Ray picks, with this server's `vae` package
(vae/ray_cluster.py); the node's `python` brings the dependencies (`pip install "vae-lab[ray]"` there). `<root>`
must be a folder every node sees at the same path (a shared mount): the events log, the live map, the bundle
and its UMAP map (the run's own follow-up, vae/latent/projection_worker.py, a process of the same job) are
written there and read here. The engine's job metadata names the folder and the output, so one training per
folder holds across servers, and a restarted server finds its job again by asking the engine.
"""

from __future__ import annotations

import json
import shlex
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ray.job_submission import JobDetails, JobStatus

from vae.cli.errors import error_line
from vae.commands import CLI
from vae.ray_cluster import ENDED, KIND, ROOT, RayCluster, engine_reason
from vae.training import events as ev
from vae.training import options
from vae.training.events import read_events
from vae.training.jobs import JOBS_DIR, JobRefused, TrainRequest, folder_lock, outcome, run_directory

TRAIN = "train"  # metadata KIND of a training job


@dataclass(frozen=True)
class RayResources:
    """What one job asks the cluster for: `workers` DDP processes (torchrun) of one CPU, or one GPU each."""

    workers: int = 1
    gpus: int = 0

    def entrypoint(self, request: TrainRequest, out: Path) -> str:
        """The shell command Ray runs on the node (its `python`, this package from the runtime_env)."""
        train = [CLI, "train", *options.command_line(asdict(request)), "--out", str(out)]
        if self.gpus:
            train += ["--device", "cuda"]
        processes = max(self.workers, self.gpus)
        if processes > 1:
            return shlex.join(["python", "-m", "torch.distributed.run", "--standalone", "--nproc_per_node",
                               str(processes), "-m", *train])
        return shlex.join(["python", "-m", *train])


@dataclass
class RayJob:
    """One training job as the engine reports it, with the fields the Train page shows (as `Job` has)."""

    id: str  # Ray's submission id
    name: str
    out: str
    request: dict[str, Any]
    started: float
    engine_status: str
    status: str = "running"  # running | completed | cancelled | failed
    message: str = ""
    cancel_requested: float | None = None
    ended: float | None = None
    bundle: str | None = None
    resources: dict[str, int] = field(default_factory=dict)

    @property
    def running(self) -> bool:
        return self.status == "running"

    @property
    def out_path(self) -> Path:
        return Path(self.out)


def engine_outcome(engine_status: str, engine_message: str, events: list[dict[str, Any]], cancel_requested: bool,
                   log_tail: str) -> tuple[str, str, str | None]:
    """(status, message, bundle) of an ended job: the run's own end where it wrote one, the engine's otherwise.

    STOPPED is a cancel; FAILED (the entrypoint crashed, or a worker, its node or the supervisor was lost) is a
    failure with the engine's reason, and the run's own where it gave one, keeping whatever bundle the run saved
    (on SIGTERM, or when a distributed run loses a worker, it saves the last completed epoch)."""
    status, message, bundle = outcome(events, cancel_requested or engine_status == JobStatus.STOPPED, log_tail)
    if engine_status == JobStatus.STOPPED:
        return "cancelled", message if status == "cancelled" else f"stopped through Ray: {message}", bundle
    if engine_status == JobStatus.FAILED:
        said = any(e.get("event") in (ev.RUN_END, ev.TRAIN_END) for e in events) or error_line(log_tail) is not None
        if status == "failed" and said and not bundle:
            return status, message, bundle  # the run's own one-line reason (a NaN loss, unreadable data)
        own = f"; {message}" if said else ""  # a distributed run's: which worker it lost
        kept = "; the last completed epoch's bundle was kept" if bundle else "; no bundle was written"
        return "failed", f"Ray: {engine_reason(engine_message)}{own}{kept}", bundle
    return status, message, bundle


_ENDED: dict[str, RayJob] = {}  # an ended job never changes: its logs are read once per server


class RayJobRegistry:
    """The training job of one (shared) folder on a Ray cluster: start, follow, cancel, as JobRegistry does."""

    can_force_stop = False  # Ray itself kills a job STOP_WAIT_S after its stop

    def __init__(self, root: str | Path, address: str) -> None:
        self.root = Path(root).resolve()
        self.cluster = RayCluster(address)

    def gpus(self) -> int:
        return self.cluster.gpus()

    def devices(self) -> list[str]:
        """The devices a job may ask for: the cluster's (a node resolves `auto` itself)."""
        return ["auto", "cpu", *(["cuda"] if self.cluster.gpus() else [])]

    def _cancel_file(self, job_id: str) -> Path:
        return self.root / JOBS_DIR / f"{job_id}.cancel"

    def _job(self, details: JobDetails) -> RayJob:
        """The engine's record as a RayJob; an ended one is finalised from its events and log once."""
        if details.submission_id in _ENDED:
            return _ENDED[details.submission_id]
        meta = details.metadata
        cancel = self._cancel_file(details.submission_id)
        job = RayJob(id=details.submission_id, name=meta["vae_lab_name"], out=meta["vae_lab_out"],
                     request=json.loads(meta["vae_lab_request"]), started=(details.start_time or 0) / 1000,
                     engine_status=str(details.status.value), resources=json.loads(meta["vae_lab_resources"]),
                     cancel_requested=cancel.stat().st_mtime if cancel.exists() else None)
        if details.status in ENDED:
            events = read_events(job.out_path / ev.EVENTS_FILE)
            logs = self.cluster.log_tail(job.id)
            job.status, job.message, job.bundle = engine_outcome(details.status, details.message or "", events,
                                                                 job.cancel_requested is not None, logs)
            job.ended = (details.end_time or 0) / 1000 or None
            _ENDED[job.id] = job
        return job

    def current(self) -> RayJob | None:
        """The folder's latest training as the engine knows it (any server, a restarted one included)."""
        ours = self.cluster.jobs(**{KIND: TRAIN, ROOT: str(self.root)})
        return self._job(ours[0]) if ours else None

    def start(self, request: TrainRequest, devices: list[str] | None = None,
              resources: RayResources | None = None) -> RayJob:
        """Submit the training command as a Ray job; JobRefused if one runs in this folder or the request is bad."""
        resources = resources or RayResources()
        with folder_lock(self.root):
            job = self.current()
            if job is not None and job.running:
                raise JobRefused(f"a training job is already running on the Ray cluster: {job.name!r} (started "
                                 f"{time.strftime('%H:%M:%S', time.localtime(job.started))}); wait for it or "
                                 "cancel it first")
            errors = request.validate(self.root, devices or self.devices())
            if errors:
                raise JobRefused("; ".join(f"{k}: {v}" for k, v in errors.items()))
            out = run_directory(self.root, request.name)
            out.mkdir(parents=True)
            metadata = {"vae_lab_name": request.name, "vae_lab_request": json.dumps(asdict(request)),
                        "vae_lab_resources": json.dumps(asdict(resources))}
            processes = max(resources.workers, resources.gpus)
            try:
                job_id = self.cluster.submit(TRAIN, self.root, out, resources.entrypoint(request, out), metadata,
                                             num_cpus=0 if resources.gpus else processes, num_gpus=resources.gpus)
            except JobRefused:
                out.rmdir()
                raise
            return RayJob(id=job_id, name=request.name, out=str(out), request=asdict(request), started=time.time(),
                          engine_status=str(JobStatus.PENDING.value), resources=asdict(resources))

    def cancel(self, force: bool = False) -> RayJob | None:
        """Ray's stop: SIGTERM to the job's processes (the trainer saves its last epoch), SIGKILL after STOP_WAIT_S."""
        job = self.current()
        if job is None or not job.running:
            return job
        self._cancel_file(job.id).touch()
        self.cluster.stop(job.id)
        job.cancel_requested = time.time()
        return job

    def wait(self, timeout: float) -> RayJob | None:
        """Poll until the job is no longer running or `timeout` seconds pass (tests, scripts)."""
        deadline = time.monotonic() + timeout
        job = self.current()
        while job is not None and job.running and time.monotonic() < deadline:
            time.sleep(0.5)
            job = self.current()
        return job
