"""Find bundles in checkpoint directories and say, for each, whether it loads and why not."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from vae.bundle import CONFIG, BundleError, load_bundle

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
    """Fully validate one directory (checksums, shapes); never raises."""
    try:
        bundle = load_bundle(path)
    except BundleError as exc:
        return BundleEntry(path, False, tuple(exc.problems))
    except Exception as exc:  # a loader bug must not take the app down with it
        return BundleEntry(path, False, (f"unexpected error: {type(exc).__name__}: {exc}",))
    card = bundle.config
    title = f"{card['model']['arch']} z{bundle.latent_dim} · {card['dataset']['name']}"
    return BundleEntry(path, True, (), title)


def is_bundle_dir(path: Path) -> bool:
    """Cheap check: a run directory without config.json is a job in progress, not listed."""
    return (path / CONFIG).is_file() or any(path.glob("*.safetensors"))


def scan(dirs: list[Path]) -> list[BundleEntry]:
    """Every bundle-like directory under `dirs`, valid ones first."""
    entries = [inspect(p) for root in dirs for p in candidate_dirs(root) if is_bundle_dir(p)]
    return sorted(entries, key=lambda e: (not e.valid, e.label))


def fingerprint(dirs: list[Path]) -> tuple:
    """Changes whenever a bundle is added, removed or rewritten (for caching `scan`)."""
    stamps = []
    for root in dirs:
        for path in candidate_dirs(root):
            for file in sorted(path.iterdir()) if path.is_dir() else []:
                if file.is_file() and not file.name.startswith(".") and file.name != "events.jsonl":
                    stat = file.stat()
                    stamps.append((str(file), stat.st_mtime_ns, stat.st_size))
    return tuple(stamps)
