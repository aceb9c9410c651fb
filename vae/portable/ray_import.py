"""Open a model's check and import as Ray jobs: the local commands (vae/portable/import_job.py), run on a node.

The uploads are in the import's workspace inside the training folder, which every node sees at the same path,
so the job finds them there: the user's files travel through the shared folder, never pickled by the server. The
import is one job per output folder (the engine refuses a second one writing it, from any server), followed
through its status and its progress file, and stopped with Ray's stop (SIGTERM to the CLI and its child).
"""

from __future__ import annotations

import shlex
import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path

from ray.job_submission import JobDetails, JobStatus

from vae.cli.errors import error_line
from vae.commands import CLI
from vae.portable.import_job import (
    CANCELLED,
    DETECT_TIMEOUT_S,
    IMPORT_TIMEOUT_S,
    PROGRESS,
    TIMED_OUT,
    CheckFailed,
    check_result,
    import_argv,
    import_outcome,
)
from vae.progress_log import read
from vae.ray_cluster import ENDED, RayCluster, engine_reason
from vae.training.backend import EngineUnreachable

IMPORT, CHECK = "import", "check"  # metadata KIND of these jobs


def _root(workspace: Path) -> Path:
    """The training folder of a workspace (`<root>/.imports/<id>`, import_job.new_workspace)."""
    return workspace.parents[1]


def _entrypoint(argv: list[str]) -> str:
    return shlex.join(["python", "-m", *argv])


@dataclass
class RayImportJob:
    """One import on the cluster, with ImportJob's face: running, progress, outcome, stop, wait, clean_up."""

    workspace: Path
    out: Path
    cluster: RayCluster
    id: str
    stopped: str | None = None  # CANCELLED or TIMED_OUT once a stop was sent
    unreachable: str = ""  # the one line of a head that did not answer when last asked
    _ended: JobDetails | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        timer = threading.Timer(IMPORT_TIMEOUT_S, self.stop, args=(TIMED_OUT,))
        timer.daemon = True
        timer.start()

    def _details(self) -> JobDetails | None:
        """The engine's record; None while the head does not answer (the job may still run: nothing is removed)."""
        if self._ended is not None:
            return self._ended
        try:
            details = self.cluster.details(self.id)
        except EngineUnreachable as exc:
            self.unreachable = str(exc)
            return None
        self.unreachable = ""
        if details.status in ENDED:
            self._ended = details
        return details

    @property
    def running(self) -> bool:
        details = self._details()
        return details is not None and details.status not in ENDED

    def stop(self, reason: str = CANCELLED) -> None:
        """Ray's stop; `reason` is shown."""
        if self.running:
            self.stopped = reason
            self.cluster.stop(self.id)

    def progress(self) -> dict[str, tuple[int, int]]:
        return read(self.workspace / PROGRESS)

    def outcome(self) -> tuple[str, str]:
        """As ImportJob's, from the engine: a stop it did not send (a lost node) says Ray's reason."""
        details = self._details()
        if details is None:
            return "refused", self.unreachable
        if details.status not in ENDED:
            return "running", ""
        stopped = self.stopped or (CANCELLED if details.status == JobStatus.STOPPED else None)
        return import_outcome(self.out, details.status == JobStatus.SUCCEEDED, stopped,
                              self.cluster.log_tail(self.id), f"Ray: {engine_reason(details.message)}")

    def wait(self, timeout: float) -> None:
        self.cluster.wait(self.id, timeout)

    def clean_up(self) -> None:
        """Remove the uploads once the outcome has been read (the engine keeps the job's log)."""
        details = self._details()
        if details is not None and details.status in ENDED:
            shutil.rmtree(self.workspace, ignore_errors=True)


def start_on_ray(address: str, route_args: list[str], out: Path, workspace: Path) -> RayImportJob:
    """Submit the import; JobRefused when a job writes `out` already, or the head does not answer."""
    cluster = RayCluster(address)
    job_id = cluster.submit(IMPORT, _root(workspace), out, _entrypoint(import_argv(route_args, out, workspace)))
    return RayImportJob(workspace, out, cluster, job_id)


def detect_on_ray(address: str, route_args: list[str], workspace: Path) -> dict:
    """The check as a job that writes nothing: waited for (DETECT_TIMEOUT_S at most, then stopped), its result
    read from its output."""
    cluster = RayCluster(address)
    job_id = cluster.submit(CHECK, _root(workspace), workspace,
                            _entrypoint([CLI, "import", *route_args, "--detect-only"]))
    details = cluster.wait(job_id, DETECT_TIMEOUT_S)
    if details.status not in ENDED:
        cluster.stop(job_id)
        raise CheckFailed(f"running the model took longer than {DETECT_TIMEOUT_S} s")
    output = cluster.log(job_id)
    if details.status != JobStatus.SUCCEEDED:
        raise CheckFailed(error_line(output) or f"Ray: {engine_reason(details.message)}")
    return check_result(output)
