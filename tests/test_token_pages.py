"""With an access token set, nothing on any page writes or starts work before the token is given.

The pages are the app's own (ui/navigation.py, which the entry script declares; every folder of pages/
must be among them), not a list kept here. On each, a visitor without the token fills every
uploader and text box and presses every button, three rounds deep (what one press reveals is
pressed next): first while an import and a training job run, then once both have ended. No file in
the bundle folders changes, no process or worker thread starts, and the running jobs carry on.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from dataclasses import asdict
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from ui.navigation import PAGES, PAGES_DIR
from vae.bundle import write_bundle
from vae.portable.import_job import ImportJob, new_workspace
from vae.training.jobs import Job, JobRegistry
from vae.training.processes import process_alive, process_start_time

from .conftest import ROOT, bundle_meta, page_script, train_tiny

TOKEN = "a-long-random-s3cret"
ROUNDS = 3


def test_every_page_folder_is_in_the_navigation():
    assert sorted(p.folder for p in PAGES) == sorted(d.name for d in PAGES_DIR.iterdir() if (d / "page.py").is_file())


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory, synthetic):
    folder = tmp_path_factory.mktemp("token-pages")
    model, result = train_tiny(synthetic, epochs=1)
    write_bundle(folder / "good", model, synthetic.test_images, synthetic.test_labels, bundle_meta(synthetic, result))
    return folder


def _sleeper() -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"], start_new_session=True)


@pytest.fixture()
def running_jobs(tmp_path, checkpoints, monkeypatch):
    """A training job and an import, both running (processes that sleep), in this test's folders."""
    runs = tmp_path / "runs"
    runs.mkdir()
    monkeypatch.setenv("VAE_LAB_CHECKPOINTS", str(checkpoints))
    monkeypatch.setenv("VAE_LAB_TRAIN_DIR", str(runs))
    monkeypatch.setenv("VAE_LAB_TOKEN", TOKEN)
    monkeypatch.setenv("VAE_LAB_DATA", str(tmp_path / "data"))  # where annotations would be saved
    training, importing = _sleeper(), _sleeper()
    (runs / "run").mkdir()
    (runs / ".jobs").mkdir()
    (runs / ".jobs" / "current.json").write_text(json.dumps(asdict(Job(
        id="feedfeedfeed", name="run", out=str(runs / "run"), pid=training.pid,
        pid_start=process_start_time(training.pid), argv=[], request={"device": "cpu"}, started=time.time()))))
    assert JobRegistry(runs).current().running
    job = ImportJob(new_workspace(runs), runs / "imported", importing)
    yield job, [training, importing]
    for process in (training, importing):
        process.kill()
        process.wait()


def _snapshot(*folders: Path) -> dict[str, tuple[int, int]]:
    """Every file under `folders`, with its size and modification time."""
    return {str(f): (f.stat().st_size, f.stat().st_mtime_ns) for folder in folders for f in folder.rglob("*")}


def _record_work(monkeypatch) -> list[str]:
    """Every process started, and every thread started on a function of VAE Lab's own, from now on."""
    started: list[str] = []

    class Recorded(subprocess.Popen):
        def __init__(self, args, *rest, **options):
            started.append(f"process {args}")
            raise OSError("no process may start in this test")

    start = threading.Thread.start

    def record_thread(thread: threading.Thread) -> None:
        target = getattr(thread, "_target", None)
        if getattr(target, "__module__", "").split(".")[0] in ("ui", "vae"):
            started.append(f"thread {thread.name}")
        start(thread)

    monkeypatch.setattr(subprocess, "Popen", Recorded)
    monkeypatch.setattr(threading.Thread, "start", record_thread)
    return started


def _press_everything(at: AppTest) -> None:
    """Upload a file to every uploader, type into every text box, press every button (but Unlock)."""
    done: set[str] = set()
    for _ in range(ROUNDS):
        fresh = False
        for uploader in at.get("file_uploader"):
            if uploader.id not in done and not uploader.disabled:
                suffix = uploader.proto.type[0] if uploader.proto.type else ".bin"
                uploader.set_value((f"probe{suffix}", b"probe", "application/octet-stream"))
                done.add(uploader.id)
                fresh = True
        for box in at.text_input:
            if box.key != "access_token_entry" and box.id not in done and not box.disabled:
                box.input("probe")
                done.add(box.id)
                fresh = True
        for button in at.button:
            if button.form_id != "access-token" and button.id not in done and not button.disabled:
                button.click()
                done.add(button.id)
                fresh = True
        if not fresh:
            break
        at.run()


def _walk_changes(at: AppTest, folders: tuple[Path, ...], monkeypatch) -> list[str]:
    """What pressing everything on the page started or changed: processes, threads, files."""
    before = _snapshot(*folders)
    with monkeypatch.context() as patch:
        started = _record_work(patch)
        _press_everything(at)
    after = _snapshot(*folders)
    return started + [f"file {name}" for name in sorted(set(before) ^ set(after) | {
        name for name in set(before) & set(after) if before[name] != after[name]})]


@pytest.mark.parametrize("page", [str(p.script) for p in PAGES], ids=[p.folder for p in PAGES])
def test_no_page_writes_or_starts_work_before_the_token(page, running_jobs, checkpoints, tmp_path, monkeypatch):
    job, processes = running_jobs
    at = AppTest.from_file(str(ROOT / "ui" / "app.py"), default_timeout=60)
    at.session_state["bundle_choice"] = "good"
    at.session_state["open_job"] = job
    at.run()
    at.switch_page(page).run()
    assert _walk_changes(at, (checkpoints, tmp_path), monkeypatch) == []
    assert all(process_alive(p.pid) for p in processes)  # nothing cancelled them
    for process in processes:  # both jobs end: Start and Import are offered where the token allows
        process.kill()
        process.wait()
    assert not JobRegistry(tmp_path / "runs").current().running  # its state file records the end now
    at.switch_page(page).run()
    assert _walk_changes(at, (checkpoints, tmp_path), monkeypatch) == []


def test_open_a_model_offers_its_uploads_and_import_once_the_token_is_given(running_jobs):
    job, _ = running_jobs
    at = AppTest.from_file(page_script("open_model"), default_timeout=60)
    at.session_state["open_job"] = job
    at.run()
    assert not at.get("file_uploader") and not [b for b in at.button if b.label in ("Import", "Cancel")]
    at.text_input(key="access_token_entry").input(TOKEN)
    at.button[0].click()  # Unlock
    at.run()
    assert len(at.get("file_uploader")) == 3 and {"Import", "Cancel"} <= {b.label for b in at.button}
