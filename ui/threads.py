"""Model calls on long-lived worker threads, for the decoders that sliders drive.

Streamlit runs every script and fragment run on a fresh thread, and PyTorch's first call on a
thread costs ~9 ms here (its per-thread setup) against ~0.6 ms for the decode itself (the shipped
16-D conv decoder, one code, with the PNG): a slider step would pay it every time.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")

_workers = ThreadPoolExecutor(max_workers=os.cpu_count() or 1, thread_name_prefix="vae-inference")


def on_worker(fn: Callable[..., T], *args: object) -> T:
    """`fn(*args)` on a worker thread that PyTorch has already set up; blocks until it returns."""
    return _workers.submit(fn, *args).result()
