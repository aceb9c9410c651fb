"""The app's jobs on a Ray cluster (its Jobs API): submitted with this server's code, found again, followed, stopped.

Every job the app sends (a training, an import, an IWAE estimate) is a command line of this package that Ray
runs on a node, with the server's own `vae` package as a runtime_env py_module (its files, zipped by Ray: never
a pickle). Its job metadata names what it is, the training folder and the folder it writes; the engine's state
is the only registry, so one job per output folder holds across servers and a restarted server finds its jobs
by asking the engine. Imported only once Ray is chosen (vae/job_engine.py).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests
from ray.job_submission import JobDetails, JobStatus, JobSubmissionClient

from vae.commands import PACKAGE_ROOT
from vae.training.backend import EngineUnreachable
from vae.training.jobs import JobRefused

ENDED = (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.STOPPED)
STOP_WAIT_S = 60  # Ray's grace from SIGTERM to SIGKILL: a trainer ends its step and saves the last epoch
PING_TIMEOUT_S = 3.0  # the Jobs API's own requests have no timeout: a head that does not answer is found first
POLL_S = 0.5
LOG_TAIL_CHARS = 4000
KIND, ROOT, OUT = "vae_lab", "vae_lab_root", "vae_lab_out"  # metadata: what the job is, its folder, its output


def runtime_env() -> dict[str, Any]:
    """This server's `vae` package as a py_module, unbuffered output, and time for a stop to save the epoch."""
    return {"py_modules": [str(PACKAGE_ROOT / "vae")], "excludes": ["__pycache__", "*.pyc"],
            "env_vars": {"PYTHONUNBUFFERED": "1", "TQDM_DISABLE": "1", "RAY_JOB_STOP_WAIT_TIME_S": str(STOP_WAIT_S)}}


def engine_reason(message: str | None) -> str:
    """The first line of what Ray says about an ended job (a crash, a lost node or supervisor, a stop), without
    the ", last available logs (...):" that introduces the output Ray appends."""
    return (message or "the job failed").strip().splitlines()[0].split(", last available logs")[0]


class RayCluster:
    """One Ray head, as the app's jobs use it: every call first checks, in PING_TIMEOUT_S, that it answers."""

    def __init__(self, address: str) -> None:
        self.address = address
        self._client: JobSubmissionClient | None = None

    def ping(self) -> dict[str, Any]:
        """The cluster's status; EngineUnreachable in one line when the head does not answer."""
        try:
            reply = requests.get(f"{self.address}/api/cluster_status", timeout=PING_TIMEOUT_S)
            reply.raise_for_status()
            return reply.json().get("data", {})
        except (requests.RequestException, ValueError) as exc:
            raise EngineUnreachable(f"The Ray cluster at {self.address} does not answer "
                                    f"({type(exc).__name__}): its jobs can neither start nor be followed "
                                    "until it does.") from None

    def client(self) -> JobSubmissionClient:
        self.ping()
        if self._client is None:
            self._client = JobSubmissionClient(self.address)
        return self._client

    def gpus(self) -> int:
        """The cluster's GPUs (0 where it has none)."""
        usage = self.ping().get("clusterStatus", {}).get("loadMetricsReport", {}).get("usage", {})
        return int(usage.get("GPU", [0, 0])[1])

    def jobs(self, **metadata: str) -> list[JobDetails]:
        """The app's jobs whose metadata has these values (KIND, ROOT, OUT by name), latest first."""
        found = [d for d in self.client().list_jobs()
                 if KIND in (d.metadata or {}) and all(d.metadata.get(k) == v for k, v in metadata.items())]
        return sorted(found, key=lambda d: d.start_time or 0, reverse=True)

    def running_for(self, out: Path) -> JobDetails | None:
        """The job of any kind that is writing `out` now (one job per output folder)."""
        return next((d for d in self.jobs(**{OUT: str(out)}) if d.status not in ENDED), None)

    def submit(self, kind: str, root: Path, out: Path, entrypoint: str, metadata: dict[str, str] | None = None,
               num_cpus: float = 1, num_gpus: float = 0) -> str:
        """Submit `entrypoint` as a `kind` job writing `out`; its id. JobRefused if a job writes `out` already
        or Ray refuses it."""
        running = self.running_for(out)
        if running is not None:
            raise JobRefused(f"a job is already writing {out.name!r} on the Ray cluster ({running.metadata[KIND]}: "
                             f"{running.submission_id}); wait for it or cancel it first")
        try:
            return self.client().submit_job(
                entrypoint=entrypoint, runtime_env=runtime_env(),
                metadata={KIND: kind, ROOT: str(root), OUT: str(out), **(metadata or {})},
                submission_id=f"vae-lab-{kind}-{out.name}-{uuid.uuid4().hex[:8]}",
                entrypoint_num_cpus=num_cpus, entrypoint_num_gpus=num_gpus)
        except (RuntimeError, ValueError) as exc:  # the engine refused it (its message says why)
            raise JobRefused(f"Ray refused the job: {exc}") from None

    def details(self, job_id: str) -> JobDetails:
        return self.client().get_job_info(job_id)

    def log(self, job_id: str) -> str:
        """The job's output (stdout and stderr together, as Ray keeps them)."""
        return self.client().get_job_logs(job_id)

    def log_tail(self, job_id: str) -> str:
        return self.log(job_id)[-LOG_TAIL_CHARS:]

    def stop(self, job_id: str) -> None:
        """Ray's stop: SIGTERM to the job's processes, SIGKILL STOP_WAIT_S later if any is left."""
        self.client().stop_job(job_id)

    def wait(self, job_id: str, timeout: float, each: Callable[[], None] = lambda: None) -> JobDetails:
        """Poll the job until it has ended or `timeout` seconds pass, calling `each` every poll; its details."""
        deadline = time.monotonic() + timeout
        details = self.details(job_id)
        while details.status not in ENDED and time.monotonic() < deadline:
            each()
            time.sleep(POLL_S)
            details = self.details(job_id)
        each()
        return details
