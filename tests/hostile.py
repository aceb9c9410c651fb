"""A bundle, a training job and a link whose every text field carries Markdown and HTML.

Each field gets its own tag, so a test can find each one shown as text, and every link or image
in it points at `evil.example`: a browser that renders any of it as Markdown or HTML either shows
a link or asks that host for something.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from vae.bundle import update_config, write_bundle
from vae.data import make_synthetic
from vae.training.live_map import LIVE_MAP

from .conftest import bundle_meta, train_tiny

HOST = "evil.example"
# A folder name cannot hold '/', so it carries what needs none: autolinks, HTML, emphasis.
FOLDER = f"**bold**-www.{HOST}-x@{HOST}-<img src=x>-[a](x)"


def evil(tag: str) -> str:
    """Markdown, HTML, GFM autolinks, Streamlit directives and LaTeX, all tagged with `tag`."""
    return (f"{tag}[a](http://{HOST}/{tag}) ![i](http://{HOST}/{tag}.png) <img src='http://{HOST}/{tag}-h.png'> "
            f"<a href='http://{HOST}/{tag}-h'>h</a> http://{HOST}/{tag}-auto www.{HOST} me@{HOST} "
            f":red[{tag}] :material/home: $\\href{{http://{HOST}}}{{{tag}}}$ **{tag}** `{tag}`")


def short_evil(tag: str) -> str:
    """The same kinds of markup in at most 100 characters (a class name's limit)."""
    return f"{tag}[a](http://{HOST}) ![i](http://{HOST}/i) <img src=x> www.{HOST} m@{HOST}"


def write_bundle_with_markup(folder: Path) -> Path:
    """A valid tiny bundle at `folder/FOLDER` whose name, class names and model card texts are `evil`."""
    dataset = make_synthetic(n_train=256, n_test=64, seed=3)
    model, result = train_tiny(dataset, epochs=1)
    meta = bundle_meta(dataset, result)
    meta["dataset"] = {"name": short_evil("ds"), "class_names": [short_evil(f"c{i}") for i in range(10)]}
    path = write_bundle(folder / FOLDER, model, dataset.test_images, dataset.test_labels, meta)
    update_config(path, {"name": evil("name"), "status_message": evil("status"), "device": evil("device"),
                         "device_name": evil("devname"), "created": evil("created"),
                         "versions": {short_evil("vk"): short_evil("ver")}})
    return path


def write_job_with_markup(train_dir: Path) -> None:
    """A finished job in `train_dir` whose state, events and live map carry `evil` texts."""
    out = train_dir / "run"
    out.mkdir(parents=True)
    events = [{"event": "run_start", "dataset": {"class_names": [evil(f"live{i}") for i in range(3)]}},
              {"event": "train_start", "device": evil("jobdevice"), "epochs": 2, "total_steps": 4,
               "steps_per_epoch": 2},
              {"event": "run_end", "status": "cancelled", "message": evil("jobmessage")}]
    (out / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    np.savez(out / LIVE_MAP, xy=np.random.default_rng(0).normal(size=(30, 2)).astype(np.float32),
             labels=np.arange(30) % 3, indices=np.arange(30), epoch=np.int64(1))
    state = {"id": "feedfeedfeed", "name": evil("jobname"), "out": str(out), "pid": 2**22 + 7, "pid_start": "1",
             "argv": [], "request": {"device": "cpu"}, "started": time.time() - 60, "status": "cancelled",
             "message": evil("jobmessage"), "ended": time.time(), "bundle": None}
    (train_dir / ".jobs").mkdir(parents=True, exist_ok=True)
    (train_dir / ".jobs" / "current.json").write_text(json.dumps(state))


def link_query() -> dict[str, str]:
    """Query parameters of a crafted link: a model name with markup, and malformed idx and z."""
    return {"bundle": evil("link"), "idx": evil("idx"), "z": evil("z")}
