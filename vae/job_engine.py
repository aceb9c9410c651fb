"""Which engine runs the app's training jobs: `local` (a process on the serving machine, the default) or `ray`
(a Ray cluster, through its Jobs API), chosen once per server.

    vae-lab serve --jobs ray --ray-address http://HEAD:8265     (or VAE_LAB_RAY_ADDRESS=http://HEAD:8265)

An address in VAE_LAB_RAY_ADDRESS alone chooses Ray; `--jobs local` overrides it. Light on purpose (`vae-lab
serve` reads it before the server starts): the registries are made by vae/training/backend.py.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass

LOCAL, RAY = "local", "ray"
KINDS = (LOCAL, RAY)
RAY_ADDRESS_VAR = "VAE_LAB_RAY_ADDRESS"


@dataclass(frozen=True)
class JobEngine:
    """The job engine of this server; `ray_address` is the Ray head's dashboard (Jobs API) URL."""

    kind: str = LOCAL
    ray_address: str | None = None


def choose(kind: str | None = None, ray_address: str | None = None) -> JobEngine:
    """The engine from `--jobs`/`--ray-address`, else the environment; ValueError when Ray has no address."""
    address = ray_address or os.environ.get(RAY_ADDRESS_VAR) or None
    kind = kind or (RAY if address else LOCAL)
    if kind not in KINDS:
        raise ValueError(f"unknown job engine {kind!r}: choose one of {', '.join(KINDS)}")
    if kind == RAY and not address:
        raise ValueError(f"--jobs ray needs --ray-address http://HEAD:8265 or {RAY_ADDRESS_VAR}")
    if kind == RAY and importlib.util.find_spec("ray") is None:  # found, not imported
        raise ValueError('--jobs ray needs Ray installed: pip install "vae-lab[ray]"')
    return JobEngine(kind, address.rstrip("/") if kind == RAY else None)
