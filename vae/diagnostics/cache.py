"""A user cache for values computed from a bundle that was built without them.

Bundles are never written to on open (a shipped folder may be read-only, and a bundle's files are
checksummed): values computed later live in `$VAE_LAB_CACHE`, else `$XDG_CACHE_HOME/vae-lab`, else
`~/.cache/vae-lab`, in a file named by the SHA-256 of the bundle's config.json. That file lists the
checksum of every bundle file, so a rewritten bundle gets a new name and never reads stale values.
"""

from __future__ import annotations

import hashlib
import logging
import os
import uuid
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

CACHE_VAR = "VAE_LAB_CACHE"


def cache_dir() -> Path:
    """Where computed values are kept."""
    if os.environ.get(CACHE_VAR):
        return Path(os.environ[CACHE_VAR])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "vae-lab"


def bundle_key(bundle_path: str | Path) -> str:
    """The bundle's fingerprint: SHA-256 of its config.json (the record of every file's checksum)."""
    return hashlib.sha256((Path(bundle_path) / "config.json").read_bytes()).hexdigest()[:32]


def cache_file(bundle_path: str | Path, kind: str) -> Path:
    return cache_dir() / kind / f"{bundle_key(bundle_path)}.npz"


def read_cached(bundle_path: str | Path, kind: str, max_bytes: int) -> dict[str, np.ndarray] | None:
    """The cached arrays, or None when there are none or they are unreadable or too large."""
    try:
        file = cache_file(bundle_path, kind)
        if not file.is_file() or file.stat().st_size > max_bytes:
            return None
        with np.load(file, allow_pickle=False) as npz:
            return {name: npz[name] for name in npz.files}
    except Exception as exc:  # a damaged cache file is recomputed, never shown as an error
        log.info("ignoring the cached %s of %s: %s", kind, bundle_path, exc)
        return None


def write_cached(bundle_path: str | Path, kind: str, arrays: dict[str, np.ndarray]) -> Path | None:
    """Store arrays atomically (temporary file, then rename); None when the cache is not writable."""
    try:
        file = cache_file(bundle_path, kind)
        file.parent.mkdir(parents=True, exist_ok=True)
        tmp = file.with_name(f".{file.stem}.{uuid.uuid4().hex[:8]}.tmp.npz")
        try:
            np.savez(tmp, **arrays)
            os.replace(tmp, file)
        finally:
            tmp.unlink(missing_ok=True)
        return file
    except OSError as exc:
        log.warning("cannot cache the %s of %s: %s", kind, bundle_path, exc)
        return None
