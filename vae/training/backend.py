"""Where the app's training jobs run: `local` (a process on the serving machine, the default) or `ray`
(a Ray cluster, through its Jobs API), chosen once per server.

    vae-lab serve --jobs ray --ray-address http://HEAD:8265     (or VAE_LAB_RAY_ADDRESS=http://HEAD:8265)

An address in VAE_LAB_RAY_ADDRESS alone chooses Ray; `--jobs local` overrides it. This module never imports
Ray: with the local backend nothing does, and `vae-lab[ray]` stays an optional extra.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from vae.training.jobs import JobRefused, JobRegistry

LOCAL, RAY = "local", "ray"
KINDS = (LOCAL, RAY)
RAY_ADDRESS_VAR = "VAE_LAB_RAY_ADDRESS"


class EngineUnreachable(JobRefused):
    """The chosen job engine (a Ray head) does not answer: said in one line, never a silent fall-back."""


@dataclass(frozen=True)
class JobBackend:
    """The job engine of this server; `ray_address` is the Ray dashboard's (Jobs API) URL."""

    kind: str = LOCAL
    ray_address: str | None = None


def choose(kind: str | None = None, ray_address: str | None = None) -> JobBackend:
    """The backend from `--jobs`/`--ray-address`, else the environment; ValueError when Ray has no address."""
    address = ray_address or os.environ.get(RAY_ADDRESS_VAR) or None
    kind = kind or (RAY if address else LOCAL)
    if kind not in KINDS:
        raise ValueError(f"unknown job backend {kind!r}: choose one of {', '.join(KINDS)}")
    if kind == RAY and not address:
        raise ValueError(f"--jobs ray needs --ray-address http://HEAD:8265 or {RAY_ADDRESS_VAR}")
    return JobBackend(kind, address.rstrip("/") if kind == RAY else None)


def registry(root: str | Path, backend: JobBackend):
    """The job registry of training folder `root` on `backend` (JobRegistry, or RayJobRegistry)."""
    if backend.kind == RAY:
        from vae.training.ray_jobs import RayJobRegistry  # Ray is imported only once it is chosen

        return RayJobRegistry(root, backend.ray_address)
    return JobRegistry(root)
