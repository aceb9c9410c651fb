"""The training options, each defined once: its default, its bounds or choices, its help and label.

Three things are generated from `OPTIONS`: the `vae-lab train` flags (`add_to_parser`), the Train
page's job request (`TrainRequest` in vae/training/jobs.py, the options with a `label`) and that
page's form (ui/training.py). `TrainConfig` takes its defaults and bounds from here too, so the
command line, the UI and the trainer accept the same values.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any

from vae.data.own import TEST_FRACTION
from vae.losses import LIKELIHOODS
from vae.models import REGISTRY
from vae.models.base import LATENT_DIM_BOUNDS

LR_SCHEDULES = ("cosine", "constant")


@dataclass(frozen=True)
class Option:
    """One option. `label` puts it on the Train form (and in the job request); `step` and `fmt` are
    the form's number step and format."""

    name: str
    default: Any
    help: str
    type: type = str
    bounds: tuple[float, float] | None = None  # inclusive
    choices: tuple[str, ...] | None = None
    flag: str = ""  # default: --name-with-dashes
    label: str = ""
    step: float | None = None
    fmt: str | None = None

    @property
    def cli_flag(self) -> str:
        return self.flag or "--" + self.name.replace("_", "-")

    def problem(self, value: Any) -> str | None:
        """Why `value` is not allowed, or None. `None` is allowed where it is the default."""
        if value is None and self.default is None:
            return None
        if self.choices is not None:
            return None if value in self.choices else f"must be one of {', '.join(self.choices)}"
        if self.bounds is None:
            return None if isinstance(value, self.type) else f"must be a {self.type.__name__}"
        low, high = self.bounds
        if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
            return f"must be between {_text(low)} and {_text(high)}"
        if self.type is int and not float(value).is_integer():
            return "must be a whole number"
        return None


OPTIONS: dict[str, Option] = {option.name: option for option in (
    Option("name", None, "display name stored in the bundle (default: the folder name)", label="Bundle name"),
    Option("dataset", "fashion-mnist", "fashion-mnist, mnist, kmnist, cifar10, synthetic, or your own images: "
           "folder:<path> (one sub-folder per class) or a .npy/.npz file, of which "
           f"one image in {round(1 / TEST_FRACTION)} of each class is held out as the test images",
           label="Dataset"),
    Option("arch", "conv", "model architecture", choices=tuple(sorted(REGISTRY)), label="Architecture"),
    Option("latent_dim", None, "latent size (default: the architecture's)", int, LATENT_DIM_BOUNDS,
           label="Latent size", step=1),
    Option("beta", 1.0, "weight of the KL term", float, (0.0, 1000.0), label="β (KL weight)", step=0.1,
           fmt="%.2f"),
    Option("kl_warmup_epochs", 0.0, "epochs of linear KL warm-up", float, (0.0, 10_000.0), flag="--kl-warmup",
           label="KL warm-up (epochs)", step=0.5, fmt="%.1f"),
    Option("epochs", 10, "passes over the training set", int, (1, 10_000), label="Epochs", step=1),
    Option("batch_size", 128, "images per optimiser step (all workers together)", int, (1, 65_536),
           label="Batch size", step=16),
    Option("lr", 1e-3, "Adam learning rate", float, (1e-6, 1.0), label="Learning rate", step=1e-4, fmt="%.5f"),
    Option("lr_schedule", "constant", "learning-rate schedule", choices=LR_SCHEDULES),
    Option("likelihood", "bernoulli", "pixel likelihood", choices=LIKELIHOODS),
    Option("gaussian_sigma", 0.1, "pixel standard deviation of the gaussian likelihood", float, (1e-3, 10.0)),
    Option("seed", 0, "random seed (weights, shuffling, sampling)", int, (0, 2**32 - 1), label="Seed", step=1),
    Option("device", "auto", "auto (cuda, then mps, then cpu), cpu, cuda, mps", label="Device"),
    Option("eval_batch_size", 1000, "images per batch when evaluating", int, (1, 65_536)),
)}
FORM_OPTIONS = [option for option in OPTIONS.values() if option.label]


def _text(number: float) -> str:
    return f"{number:g}" if isinstance(number, float) else str(number)


def add_to_parser(parser: argparse.ArgumentParser) -> None:
    """One flag per option, with its default, type, choices and help (bounds are checked later)."""
    for option in OPTIONS.values():
        bounds = f" ({_text(option.bounds[0])}..{_text(option.bounds[1])})" if option.bounds else ""
        parser.add_argument(option.cli_flag, dest=option.name, default=option.default, type=option.type,
                            choices=option.choices, help=option.help + bounds,
                            metavar=None if option.choices else option.cli_flag[2:].upper().replace("-", "_"))


def problems(values: dict[str, Any]) -> dict[str, str]:
    """Option name -> why its value is not allowed, for the options present in `values`."""
    found = {name: OPTIONS[name].problem(value) for name, value in values.items() if name in OPTIONS}
    return {name: message for name, message in found.items() if message}


def command_line(values: dict[str, Any]) -> list[str]:
    """The flags that give `values` (options at None are left out: they keep their default)."""
    argv: list[str] = []
    for name, value in values.items():
        if value is not None:
            option = OPTIONS[name]
            text = {float: lambda v: repr(float(v)), int: lambda v: str(int(v))}.get(option.type, str)(value)
            argv += [option.cli_flag, text]
    return argv
