"""Training settings as one dataclass with bounds, JSON in and out."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from vae.losses import LIKELIHOODS

LR_SCHEDULES = ("cosine", "constant")


@dataclass
class TrainConfig:
    """Everything that changes what training does; stored in every bundle's config.json."""

    epochs: int = 10
    batch_size: int = 128
    lr: float = 1e-3
    lr_schedule: str = "constant"
    beta: float = 1.0
    kl_warmup_epochs: float = 0.0
    likelihood: str = "bernoulli"
    gaussian_sigma: float = 0.1
    seed: int = 0
    device: str = "auto"
    eval_batch_size: int = 1000

    def validate(self) -> None:
        """Raise ValueError naming the first field out of bounds."""
        checks = [
            ("epochs", 1 <= self.epochs <= 10_000, "1..10000"),
            ("batch_size", 1 <= self.batch_size <= 65_536, "1..65536"),
            ("lr", 0 < self.lr <= 1.0, "in (0, 1]"),
            ("lr_schedule", self.lr_schedule in LR_SCHEDULES, f"one of {LR_SCHEDULES}"),
            ("beta", 0 <= self.beta <= 1000, "0..1000"),
            ("kl_warmup_epochs", 0 <= self.kl_warmup_epochs <= 10_000, "0..10000"),
            ("likelihood", self.likelihood in LIKELIHOODS, f"one of {LIKELIHOODS}"),
            ("gaussian_sigma", 1e-3 <= self.gaussian_sigma <= 10, "0.001..10"),
            ("seed", 0 <= self.seed < 2**63, "0..2^63-1"),
            ("eval_batch_size", 1 <= self.eval_batch_size <= 65_536, "1..65536"),
        ]
        for name, ok, bounds in checks:
            if not ok:
                raise ValueError(f"{name} must be {bounds}, got {getattr(self, name)!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown training config keys: {sorted(unknown)}")
        config = cls(**data)
        config.validate()
        return config
