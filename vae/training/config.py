"""Training settings as one dataclass, JSON in and out; defaults and bounds come from the options."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from vae.training.options import OPTIONS


def _default(name: str) -> Any:
    return OPTIONS[name].default


@dataclass
class TrainConfig:
    """Everything that changes what training does; stored in every bundle's config.json."""

    epochs: int = _default("epochs")
    batch_size: int = _default("batch_size")
    lr: float = _default("lr")
    lr_schedule: str = _default("lr_schedule")
    beta: float = _default("beta")
    kl_warmup_epochs: float = _default("kl_warmup_epochs")
    likelihood: str = _default("likelihood")
    gaussian_sigma: float = _default("gaussian_sigma")
    seed: int = _default("seed")
    device: str = _default("device")
    eval_batch_size: int = _default("eval_batch_size")

    def validate(self) -> None:
        """Raise ValueError naming the first field out of bounds."""
        for name, value in self.to_dict().items():
            problem = OPTIONS[name].problem(value)
            if problem:
                raise ValueError(f"{name} {problem}, got {value!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
