"""Slider-driven decodes run on long-lived worker threads, not on Streamlit's fresh script threads."""

import os
import threading

import pytest

from ui.threads import on_worker


def test_on_worker_returns_the_result_from_a_reused_worker_thread():
    names = {on_worker(lambda: threading.current_thread().name) for _ in range(50)}
    assert all(name.startswith("vae-inference") for name in names)
    assert len(names) <= (os.cpu_count() or 1)  # threads are kept, not made per call
    assert on_worker(divmod, 17, 5) == (3, 2)


def test_on_worker_raises_the_callers_exception():
    def fail() -> None:
        raise ValueError("bad code")

    with pytest.raises(ValueError, match="bad code"):
        on_worker(fail)
