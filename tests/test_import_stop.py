"""An import started from the app can be cancelled, and one that runs past its time limit is stopped."""

from __future__ import annotations

import os
import time

import pytest

from vae.bundle.catalog import scan
from vae.portable import import_job

from .test_open_model import click_import, page, train_dir, upload_pair  # noqa: F401 (fixture)
from .test_portable_import import mlp_pair, write_spec


def _gone(pid: int) -> bool:
    """The process group `pid` leads has no process left (zombies of this test's own children aside)."""
    try:
        os.killpg(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_cancel_stops_the_import_and_the_page_says_cancelled(tmp_path, train_dir):  # noqa: F811
    mlp_pair(tmp_path)
    write_spec(tmp_path)
    at = click_import(upload_pair(page(), tmp_path, "cancelled-pair"))
    job = at.session_state["open_job"]
    assert job.running
    next(b for b in at.button if b.label == "Cancel").click().run()
    job.wait(30)
    at.run()
    assert not at.exception
    assert any("Cancelled: the import was cancelled" in w.value for w in at.warning)
    assert _gone(job.process.pid) and scan([train_dir]) == []
    assert not list((train_dir / ".imports").iterdir())
    assert any(b.label == "Import" and not b.disabled for b in at.run().button)  # the page still answers


@pytest.fixture()
def short_limit(monkeypatch):
    monkeypatch.setattr(import_job, "IMPORT_TIMEOUT_S", 0.5)


def test_an_import_past_its_time_limit_is_stopped_with_a_reason(tmp_path, train_dir, short_limit):  # noqa: F811
    mlp_pair(tmp_path)
    write_spec(tmp_path)
    workspace = import_job.new_workspace(train_dir)
    args = ["onnx", "--encoder", str(tmp_path / "enc.onnx"), "--decoder", str(tmp_path / "dec.onnx"),
            "--spec", str(tmp_path / "spec.json"), "--dataset", "synthetic", "--no-umap"]
    started = time.monotonic()
    job = import_job.start_import(args, train_dir / "slow", workspace)
    job.wait(30)
    assert time.monotonic() - started < 10  # python and torch alone take longer than the limit
    status, message = job.outcome()
    assert status == "refused" and "ran longer than" in message and "was stopped" in message
    assert _gone(job.process.pid) and scan([train_dir]) == []
