"""Trainer callbacks: each hook receives plain-dict metrics and may call trainer.request_stop()."""

from __future__ import annotations

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
