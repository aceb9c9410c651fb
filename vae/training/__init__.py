"""Training loop, its configuration and callbacks."""

from vae.training.callbacks import Callback, EventLog, read_events
from vae.training.config import TrainConfig
from vae.training.trainer import Trainer, TrainResult, lr_at

__all__ = ["Callback", "EventLog", "TrainConfig", "TrainResult", "Trainer", "lr_at", "read_events"]
