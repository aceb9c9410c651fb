"""Training: options, configuration, the Trainer and its callbacks, events, progress, jobs, and the run from
settings to bundle (pipeline.py)."""

from vae.training.callbacks import Callback
from vae.training.config import TrainConfig
from vae.training.events import EventLog, read_events
from vae.training.trainer import Trainer, TrainResult, lr_at

__all__ = ["Callback", "EventLog", "TrainConfig", "TrainResult", "Trainer", "lr_at", "read_events"]
