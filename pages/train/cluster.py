"""The Train page's Ray part: what a job asks the cluster for (DDP processes; GPUs where the cluster has any).

Shown only when the server's jobs run on Ray (vae/job_engine.py); the local engine never imports Ray.
"""

from __future__ import annotations

import streamlit as st

from ui import bundles
from vae.job_engine import RAY

MAX_PROCESSES = 64


def on_ray() -> bool:
    return bundles.job_engine().kind == RAY


def fields(gpus: int) -> None:
    """The resource inputs, inside the form: processes always, GPUs only when the cluster has some."""
    st.number_input("Processes (data parallel, one Ray job)", min_value=1, max_value=MAX_PROCESSES, value=1, step=1,
                    key="train_ray_workers", help="torchrun in the job: each process takes one CPU (or one GPU)")
    if gpus:
        st.number_input("GPUs", min_value=0, max_value=gpus, value=0, step=1, key="train_ray_gpus",
                        help=f"the cluster has {gpus}; with any, the job trains on CUDA, one process per GPU")


def resources() -> dict[str, object]:
    """The keyword `start` takes for the form's resources ({} on the local engine)."""
    if not on_ray():
        return {}
    from vae.training.ray_jobs import RayResources

    return {"resources": RayResources(workers=int(st.session_state.get("train_ray_workers", 1)),
                                      gpus=int(st.session_state.get("train_ray_gpus", 0)))}


def where(job: object) -> str:
    """' · Ray job <id> (<engine status>)' for a job on Ray, '' for a local one."""
    engine_status = getattr(job, "engine_status", None)
    return f" · Ray job {job.id} ({engine_status.lower()})" if engine_status else ""
