"""Trainer callbacks: each hook receives plain-dict metrics and may call trainer.request_stop()."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vae.training.trainer import Trainer


class Callback:
    """Base class with no-op hooks; override the ones you need."""

    def on_train_start(self, trainer: Trainer, info: dict[str, Any]) -> None: ...
    def on_step_end(self, trainer: Trainer, metrics: dict[str, Any]) -> None: ...
    def on_eval_end(self, trainer: Trainer, metrics: dict[str, Any]) -> None: ...
    def on_epoch_end(self, trainer: Trainer, metrics: dict[str, Any]) -> None: ...
    def on_train_end(self, trainer: Trainer, result: dict[str, Any]) -> None: ...


class EventLog(Callback):
    """Appends one JSON object per line to `path`, flushed at once, so another process can follow.

    Step events are throttled to one per `step_interval_s` seconds to keep the file small.
    """

    def __init__(self, path: str | Path, step_interval_s: float = 0.5) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.step_interval_s = step_interval_s
        self._last_step_write = 0.0
        self._file = self.path.open("a", encoding="utf-8")

    def write(self, event: str, payload: dict[str, Any]) -> None:
        """Write one event line and push it to the OS so readers see it immediately."""
        record = {"event": event, "time": time.time(), "pid": os.getpid(), **payload}
        self._file.write(json.dumps(record, allow_nan=False, default=_jsonable) + "\n")
        self._file.flush()

    def on_train_start(self, trainer: Trainer, info: dict[str, Any]) -> None:
        self.write("train_start", info)

    def on_step_end(self, trainer: Trainer, metrics: dict[str, Any]) -> None:
        now = time.monotonic()
        last_step = metrics["step"] == metrics["steps_per_epoch"]
        if last_step or now - self._last_step_write >= self.step_interval_s:
            self._last_step_write = now
            self.write("step_end", metrics)

    def on_eval_end(self, trainer: Trainer, metrics: dict[str, Any]) -> None:
        self.write("eval_end", metrics)

    def on_epoch_end(self, trainer: Trainer, metrics: dict[str, Any]) -> None:
        self.write("epoch_end", metrics)

    def on_train_end(self, trainer: Trainer, result: dict[str, Any]) -> None:
        self.write("train_end", result)

    def close(self) -> None:
        self._file.close()


def _jsonable(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


def read_events(path: str | Path) -> list[dict[str, Any]]:
    """All complete events of a JSON-lines log; a partly written last line is skipped."""
    events = []
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    for line in text.splitlines():
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return events
