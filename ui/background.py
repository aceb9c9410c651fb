"""Work that runs while the page stays usable, and the one way a page follows it.

Processes (training jobs, imports) are started, tracked, locked and cancelled by their registries in
the library (vae/training/jobs.py, vae/portable/import_job.py); threads in this server are `Task`s
started with `start` (per-image values, queued one at a time), or per bundle with `BundleTasks` (the
IWAE estimate, the t-SNE map), shared by every session. A page follows either in a fragment that
reruns every POLL_S seconds while the work runs: `follow` or `@polled`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import streamlit as st

from ui import access, bundles
from ui.text import md
from vae.bundle import Bundle
from vae.training.backend import EngineUnreachable, registry
from vae.training.jobs import JobRegistry

if TYPE_CHECKING:
    from vae.training.ray_jobs import RayJobRegistry

POLL_S = 1.0  # how often a page looks at work in the background: one interval for every kind

polled = st.fragment(run_every=POLL_S)  # a fragment that always polls (it stops by rerunning the page)


def follow(panel: Callable[..., None], running: bool, *args: object) -> None:
    """Draw `panel(*args)` in a fragment that reruns every POLL_S while `running`, not at all otherwise."""
    st.fragment(run_every=POLL_S if running else None)(panel)(*args)


@dataclass
class Task:
    """Work on a thread of this server, shared by every session: its progress, then its result or error."""

    total: int
    done: int = 0
    result: Any = None
    error: str | None = None

    @property
    def running(self) -> bool:
        return self.result is None and self.error is None


_QUEUE = threading.Lock()  # held by the queued task that runs: the others wait their turn


def start(task: Task, work: Callable[[Task], Any], name: str, queued: bool = False) -> Task:
    """Run `work(task)` on a thread of its own: it reports progress in `task.done`; what it returns becomes
    `task.result`, what it raises `task.error` (shown to the user; the server carries on). Queued tasks
    run one at a time, for work that would otherwise take every core from every visitor."""

    def body() -> None:
        try:
            if queued:
                with _QUEUE:
                    task.result = work(task)
            else:
                task.result = work(task)
        except Exception as exc:
            task.error = f"{type(exc).__name__}: {exc}"

    threading.Thread(target=body, daemon=True, name=name).start()
    return task


class BundleTasks:
    """One kind of task per version of a bundle (a rewritten bundle is another), at most one running; keep
    an instance in `st.cache_resource` so that every session sees the same."""

    def __init__(self) -> None:
        self._tasks: dict[str, Task] = {}

    @staticmethod
    def key(bundle: Bundle) -> str:
        return f"{bundle.path}|{bundles.stamp(bundle)}"

    def get(self, bundle: Bundle) -> Task | None:
        return self._tasks.get(self.key(bundle))

    def start(self, bundle: Bundle, make: Callable[[], Task], work: Callable[[Task], Any], name: str,
              queued: bool = False) -> None:
        """Start `make()` for `bundle` with `start`, unless the access token is missing or one runs already."""
        current = self.get(bundle)
        if not access.unlocked() or (current is not None and current.running):
            return
        self._tasks[self.key(bundle)] = start(make(), work, name, queued)


def training_jobs() -> JobRegistry | RayJobRegistry | None:
    """The job registry of the training folder on the chosen engine (shared by every tab and user); None,
    said why, when that folder is one the app must not write."""
    folder = bundles.train_dir()
    problem = bundles.train_dir_problem(folder)
    if problem:
        st.error(md(problem))
        return None
    return registry(folder, bundles.job_engine())


def umap_pending(path: Path) -> bool:
    """Whether the current training job is the one writing `path` and still runs (its UMAP map follows)."""
    try:
        job = training_jobs().current()
    except EngineUnreachable:
        return False  # the Train page says so; the map keeps what the bundle has
    return job is not None and job.running and Path(job.out).resolve() == path.resolve()
