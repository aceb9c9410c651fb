"""What config.json may hold, checked before anything is built from it or shown.

A bundle's config is listed, shown on every page and turned into a model: each field has a type
and a bound here, so a hostile or damaged one is refused with a reason instead of crashing a page
(a string where a number goes), stalling it (20,000 class names took Explore 258 s) or building a
model too big to allocate (vae/models/size.py).
"""

from __future__ import annotations

import math
import re
import reprlib
from typing import Any

from vae.bundle.format import IMAGES_MAPPED, MAX_READ_BYTES, PROJECTION_PREFIX, STATUSES, bundle_kind
from vae.data.arrays import MAX_CLASS_NAME, MAX_CLASSES  # one limit for a bundle and the data it is trained on
from vae.models import check_size, config_from_dict
from vae.portable.spec import PortableConfig
from vae.training import options

MAX_TEXT = 1_000  # characters of any other text field
MAX_HISTORY = 10_000  # epochs
MAX_ENTRIES = 200  # keys of a metrics, training or versions section
MAX_PROJECTIONS = 8
PROJECTION_NAME = re.compile(r"[a-z][a-z0-9_]{0,31}")
TEXT_FIELDS = ("name", "status_message", "device", "device_name", "created")
_BRIEF = reprlib.Repr()
_BRIEF.maxlevel, _BRIEF.maxlist, _BRIEF.maxdict, _BRIEF.maxstring, _BRIEF.maxother, _BRIEF.maxlong = 2, 4, 4, 60, 60, 40


def brief(value: Any) -> str:
    """A value from the file, quoted short enough for a one-line reason whatever its size."""
    return _BRIEF.repr(value)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _text(value: Any, limit: int = MAX_TEXT) -> bool:
    return isinstance(value, str) and len(value) <= limit


def _numbers(section: Any, lists: bool = False) -> bool:
    """A dict of name -> number (or None, or with `lists` a list of numbers), of bounded size."""
    if not isinstance(section, dict) or len(section) > MAX_ENTRIES:
        return False
    return all(_text(key, 100) and (value is None or _number(value) or lists and isinstance(value, list)
                                   and len(value) <= 4096 and all(_number(v) for v in value))
               for key, value in section.items())


def dataset_problems(dataset: dict[str, Any]) -> list[str]:
    names = dataset.get("class_names")
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        return ["config.json: dataset.class_names must be a list of strings"]
    problems = []
    if not 1 <= len(names) <= MAX_CLASSES:
        problems.append(f"config.json: {len(names)} class names (1 to {MAX_CLASSES} allowed)")
    if any(len(n) > MAX_CLASS_NAME for n in names):
        problems.append(f"config.json: a class name is longer than {MAX_CLASS_NAME} characters")
    if not _text(dataset.get("name", ""), 200):
        problems.append("config.json: dataset.name must be a short text")
    for key in ("n_train", "n_test"):
        value = dataset.get(key, 0)
        if not (isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 10**9):
            problems.append(f"config.json: dataset.{key} must be a count")
    if dataset.get("map_images", "test") not in ("test", "train+test"):
        problems.append("config.json: dataset.map_images must be 'test' or 'train+test'")
    return problems


def training_problems(training: dict[str, Any]) -> list[str]:
    """The training section: the options the metrics were computed with must be ones training allows."""
    if len(training) > MAX_ENTRIES or not all(_text(k, 100) and (v is None or isinstance(v, bool) or _number(v)
                                                                   or _text(v, 200)) for k, v in training.items()):
        return ["config.json: training must map at most 200 names to numbers or short texts"]
    return [f"config.json: training.{name} {problem}" for name, problem in options.problems(training).items()]


def display_problems(config: dict[str, Any]) -> list[str]:
    """Fields the pages show: texts, versions, metrics and the per-epoch history."""
    problems = [f"config.json: {key} must be a text of at most {MAX_TEXT} characters"
                for key in TEXT_FIELDS if key in config and not _text(config[key])]
    versions = config.get("versions", {})
    if not (isinstance(versions, dict) and len(versions) <= MAX_ENTRIES
            and all(_text(k, 100) and _text(v, 200) for k, v in versions.items())):
        problems.append("config.json: versions must map names to short texts")
    if not _numbers(config.get("metrics", {}), lists=True):
        problems.append("config.json: metrics must map names to numbers")
    history = config.get("history", [])
    if not (isinstance(history, list) and len(history) <= MAX_HISTORY and all(_numbers(h) for h in history)):
        problems.append(f"config.json: history must be at most {MAX_HISTORY} records of numbers")
    if "train_time_s" in config and not _number(config["train_time_s"]):
        problems.append("config.json: train_time_s must be a number")
    return problems


def file_list_problems(config: dict[str, Any]) -> list[str]:
    problems = []
    for name, record in config["files"].items():
        if not (isinstance(record, dict) and isinstance(record.get("bytes"), int)
                and not isinstance(record["bytes"], bool) and record["bytes"] >= 0 and _text(record.get("sha256"), 64)):
            problems.append(f"config.json: the record of {brief(name)} must hold its bytes and sha256")
    if not problems and sum(r["bytes"] for n, r in config["files"].items() if n != IMAGES_MAPPED) > MAX_READ_BYTES:
        problems.append(f"config.json: its files (but {IMAGES_MAPPED}) are more than {MAX_READ_BYTES >> 30} GB in all")
    projections = config["projections"]
    if len(projections) > MAX_PROJECTIONS or not all(
            isinstance(p, str) and PROJECTION_NAME.fullmatch(p) and f"{PROJECTION_PREFIX}{p}.npz" in config["files"]
            for p in projections):
        problems.append("config.json: projections must name at most 8 maps whose files it lists")
    return problems


def config_problems(config: dict[str, Any]) -> list[str]:
    """Every problem of a config.json whose top-level sections have the right types."""
    problems = []
    if config["status"] not in STATUSES:
        problems.append(f"config.json: status must be one of {', '.join(STATUSES)}")
    try:
        if bundle_kind(config) == "portable":  # shapes only: its graphs' sizes are bounded as files
            PortableConfig.from_dict(config["model"])
        else:
            check_size(config_from_dict(config["model"]))
    except (ValueError, TypeError) as exc:
        problems.append(f"config.json: model config invalid ({exc})")
    problems += dataset_problems(config["dataset"])
    problems += training_problems(config["training"])
    problems += display_problems(config)
    problems += file_list_problems(config)
    return problems
