"""The model card's IWAE estimate as a Ray job: `vae-lab evaluate BUNDLE --iwae-k K --iwae-images N --save` on a node.

For a bundle in the training folder, the folder the cluster's nodes share: the job records the metrics in the
bundle's config.json, as the card's own estimate does, and appends its progress to a JSON-lines file in the
folder's `.jobs/`, which the card follows. One estimate per bundle: the engine refuses a second job writing it
(from any server), and a card that asks while one runs follows that one instead.
"""

from __future__ import annotations

import shlex
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ray.job_submission import JobStatus

from vae.bundle import read_config
from vae.cli.errors import error_line
from vae.cli.evaluate import IWAE_STAGE
from vae.commands import CLI
from vae.progress_log import read
from vae.ray_cluster import ENDED, KIND, RayCluster, engine_reason
from vae.training.jobs import JOBS_DIR

EVALUATE = "evaluate"  # metadata KIND of an estimate
PROGRESS = "vae_lab_progress"  # metadata: its progress file
TIMEOUT_S = 6 * 3600.0  # k = 5000 on 1000 images of a large conv model, on a CPU node: hours, not days


class EstimateFailed(RuntimeError):
    """The job ended without recording the estimate; the message is its one-line reason."""


def estimate(address: str, root: Path, bundle: Path, k: int, n_images: int,
             progress: Callable[[int, int], None]) -> dict[str, Any]:
    """Submit the estimate (or join the one running for `bundle`), follow it, and return the IWAE metrics it
    recorded; JobRefused when another job writes the bundle or the head does not answer."""
    cluster = RayCluster(address)
    running = cluster.running_for(bundle)
    if running is not None and running.metadata[KIND] == EVALUATE:
        job_id, file = running.submission_id, Path(running.metadata[PROGRESS])
    else:
        file = root / JOBS_DIR / f"iwae-{bundle.name}-{uuid.uuid4().hex[:8]}.jsonl"
        file.parent.mkdir(parents=True, exist_ok=True)
        command = ["python", "-m", CLI, "evaluate", str(bundle), "--iwae-k", str(k), "--iwae-images", str(n_images),
                   "--save", "--progress-file", str(file)]
        job_id = cluster.submit(EVALUATE, root, bundle, shlex.join(command), {PROGRESS: str(file)})

    def report() -> None:
        done = read(file).get(IWAE_STAGE)
        if done:
            progress(*done)

    details = cluster.wait(job_id, TIMEOUT_S, report)
    file.unlink(missing_ok=True)
    if details.status not in ENDED:
        cluster.stop(job_id)
        raise EstimateFailed(f"the estimate ran longer than {TIMEOUT_S / 3600:g} hours and was stopped")
    if details.status != JobStatus.SUCCEEDED:
        raise EstimateFailed(error_line(cluster.log_tail(job_id)) or f"Ray: {engine_reason(details.message)}")
    return {k: v for k, v in read_config(bundle).get("metrics", {}).items() if k.startswith("iwae_")}
