"""The job registry of a training folder on the chosen engine (vae/job_engine.py): local processes or Ray.

Ray is imported only once it is chosen: with the local engine nothing imports it, and `vae-lab[ray]` stays an
optional extra.
"""

from __future__ import annotations

from pathlib import Path

from vae.job_engine import RAY, JobEngine
from vae.training.jobs import JobRefused, JobRegistry


class EngineUnreachable(JobRefused):
    """The chosen engine (a Ray head) does not answer: said in one line, never a silent fall-back to local."""


def registry(root: str | Path, engine: JobEngine):
    """JobRegistry of `root`, or its RayJobRegistry on a Ray engine (same start, current, cancel, wait)."""
    if engine.kind == RAY:
        from vae.training.ray_jobs import RayJobRegistry  # Ray is imported only once it is chosen

        return RayJobRegistry(root, engine.ray_address)
    return JobRegistry(root)
