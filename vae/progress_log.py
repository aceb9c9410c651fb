"""A command's progress as JSON lines of {"stage", "done", "total"}: appended by the command (its `--progress-file`),
read by whoever follows it (the app's page for an import or an IWAE estimate, local or on a cluster)."""

from __future__ import annotations

import json
from pathlib import Path


def append(path: Path, stage: str, done: int, total: int) -> None:
    """Add one stage's (done, total) to the file."""
    with Path(path).open("a", encoding="utf-8") as handle:
        handle.write(json.dumps({"stage": stage, "done": done, "total": total}) + "\n")


def read(path: Path) -> dict[str, tuple[int, int]]:
    """The latest (done, total) of each stage so far, in the order the stages began ({} before the first)."""
    stages: dict[str, tuple[int, int]] = {}
    if Path(path).is_file():
        for line in Path(path).read_text(encoding="utf-8").splitlines():
            try:
                record = json.loads(line)
                stages[str(record["stage"])] = (int(record["done"]), int(record["total"]))
            except (ValueError, KeyError, TypeError):
                continue  # a line being written
    return stages
