"""A user cache for values computed from a bundle that was built without them.

Bundles are never written to on open (a shipped folder may be read-only, and a bundle's files are
checksummed): values computed later live in `$VAE_LAB_CACHE`, else `$XDG_CACHE_HOME/vae-lab`, else
`~/.cache/vae-lab`, in a file named by the SHA-256 of the bundle's config.json. That file lists the
checksum of every bundle file, so a rewritten bundle gets a new name and never reads stale values.
The cache is another place to plant values, so a cache file is read only when this user owns it and
no one else may write it, and only when it holds the checksum of the bundle it is read for.
"""

from __future__ import annotations

import hashlib
import logging
import os
import stat
import uuid
from pathlib import Path

import numpy as np

from vae.files import open_regular
from vae.user_dirs import cache_home

log = logging.getLogger(__name__)

CACHE_VAR = "VAE_LAB_CACHE"
BUNDLE_CHECKSUM = "bundle_sha256"  # the array that binds a cache file to the bundle it was computed from


def cache_dir() -> Path:
    """Where computed values are kept."""
    if os.environ.get(CACHE_VAR):
        return Path(os.environ[CACHE_VAR])
    return cache_home()


def bundle_checksum(bundle_path: str | Path) -> str:
    """SHA-256 of the bundle's config.json: the record of every file's checksum."""
    return hashlib.sha256((Path(bundle_path) / "config.json").read_bytes()).hexdigest()


def bundle_key(bundle_path: str | Path) -> str:
    """The bundle's fingerprint (a cache file's name): its checksum, shortened."""
    return bundle_checksum(bundle_path)[:32]


def cache_file(bundle_path: str | Path, kind: str) -> Path:
    return cache_dir() / kind / f"{bundle_key(bundle_path)}.npz"


def distrust(info: os.stat_result) -> str | None:
    """Why a cache file is not trusted: another user's, or one others may write; None when it is ours alone."""
    if info.st_uid != os.getuid():
        return f"owned by user {info.st_uid}, not by this one"
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return "writable by other users"
    return None


def read_cached(bundle_path: str | Path, kind: str, max_bytes: int) -> dict[str, np.ndarray] | None:
    """The cached arrays, or None when there are none, or they are unreadable, too large, not this
    user's own, or written for another bundle."""
    try:
        checksum = bundle_checksum(bundle_path)
        with open_regular(cache_dir() / kind / f"{checksum[:32]}.npz", max_bytes) as handle:
            if reason := distrust(os.fstat(handle.fileno())):
                log.warning("ignoring the cached %s of %s: the file is %s", kind, bundle_path, reason)
                return None
            with np.load(handle, allow_pickle=False) as npz:
                arrays = {name: npz[name] for name in npz.files}
    except FileNotFoundError:
        return None
    except Exception as exc:  # a damaged cache file is recomputed, never shown as an error
        log.info("ignoring the cached %s of %s: %s", kind, bundle_path, exc)
        return None
    if str(arrays.pop(BUNDLE_CHECKSUM, "")) != checksum:
        log.warning("ignoring the cached %s of %s: it was written for another bundle", kind, bundle_path)
        return None
    return arrays


def write_cached(bundle_path: str | Path, kind: str, arrays: dict[str, np.ndarray]) -> Path | None:
    """Store arrays, with the bundle's checksum, atomically (temporary file, then rename) and for this
    user alone; None when the cache is not writable."""
    try:
        file = cache_file(bundle_path, kind)
        file.parent.mkdir(parents=True, exist_ok=True)
        tmp = file.with_name(f".{file.stem}.{uuid.uuid4().hex[:8]}.tmp.npz")
        try:
            np.savez(tmp, **arrays, **{BUNDLE_CHECKSUM: np.array(bundle_checksum(bundle_path))})
            os.chmod(tmp, 0o600)
            os.replace(tmp, file)
        finally:
            tmp.unlink(missing_ok=True)
        return file
    except OSError as exc:
        log.warning("cannot cache the %s of %s: %s", kind, bundle_path, exc)
        return None
