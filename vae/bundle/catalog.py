"""Find bundles in checkpoint directories cheaply: each is listed from its config.json alone.

Listing never opens weights or arrays and computes no checksum: it parses `config.json` and
compares the files it lists with `stat` (missing, truncated). Opening a bundle (`load_bundle`)
verifies everything, once, when a user picks it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from vae.bundle.format import CONFIG, BundleError
from vae.bundle.read import file_problems, read_config

ENV_VAR = "VAE_LAB_CHECKPOINTS"


@dataclass(frozen=True)
class BundleEntry:
    """One candidate directory: valid, or invalid with the reasons."""

    path: Path
    valid: bool
    problems: tuple[str, ...] = ()
    title: str = ""

    @property
    def label(self) -> str:
        return f"{self.path.parent.name}/{self.path.name}"


def checkpoint_dirs(extra: list[str | Path] | None = None, default: str | Path = "checkpoints") -> list[Path]:
    """The default folder, folders named in $VAE_LAB_CHECKPOINTS (os.pathsep-separated), then `extra`."""
    dirs = [Path(default)]
    dirs += [Path(p) for p in os.environ.get(ENV_VAR, "").split(os.pathsep) if p]
    dirs += [Path(p) for p in extra or []]
    unique: list[Path] = []
    for d in dirs:
        if d.resolve() not in [u.resolve() for u in unique]:
            unique.append(d)
    return unique


def candidate_dirs(root: Path) -> list[Path]:
    """Sub-directories that look like bundles or runs (hidden ones are staging areas)."""
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))


def inspect(path: Path) -> BundleEntry:
    """List one directory from its config.json and the sizes of its files; never raises."""
    try:
        card = read_config(path)
        problems = file_problems(path, card)
    except BundleError as exc:
        return BundleEntry(path, False, tuple(exc.problems))
    except Exception as exc:  # an unreadable folder must not take the app down with it
        return BundleEntry(path, False, tuple(BundleError.unexpected(path, exc).problems))
    model, dataset = card["model"], card["dataset"]
    title = f"{model.get('arch', '?')} z{model.get('latent_dim', '?')} · {dataset.get('name', '?')}"
    return BundleEntry(path, not problems, tuple(problems), title)


def is_bundle_dir(path: Path) -> bool:
    """One `lstat`: a folder with a config.json (of any kind: a pipe there is listed as invalid) is a
    bundle; any other folder, a job in progress or one with 70,000 files of something else, is not
    looked into."""
    return os.path.lexists(path / CONFIG)


def scan(dirs: list[Path]) -> list[BundleEntry]:
    """Every bundle-like directory under `dirs`, valid ones first."""
    entries = [inspect(p) for root in dirs for p in candidate_dirs(root) if is_bundle_dir(p)]
    return sorted(entries, key=lambda e: (not e.valid, e.label))


def fingerprint(path: Path) -> tuple:
    """Name, time and size of each file of a bundle directory: changes when any is rewritten.

    `lstat` only, so it is cheap enough to key the listing's and the loaded bundles' caches on. A
    folder that is no bundle (no config.json) gives () after one `lstat`: it is never listed, so a
    folder of 70,000 files beside the bundles costs nothing per rerun.
    """
    if not is_bundle_dir(path):
        return ()
    stamps = []
    with os.scandir(path) as entries:
        for entry in entries:
            if not entry.name.startswith("."):
                info = entry.stat(follow_symlinks=False)
                stamps.append((entry.name, info.st_mode, info.st_mtime_ns, info.st_size))
    return tuple(sorted(stamps))
