"""Unpack an uploaded zip (a pythae model folder, a folder of images) safely: no path traversal, no links, no zip bombs.

A zip's directory can name `../../etc/x` or a symlink, and its declared sizes can lie; a small
zip can expand to gigabytes. Members are checked by name and type first, then streamed out with
the bytes actually produced counted against the limits.
"""

from __future__ import annotations

import io
import shutil
import stat
import zipfile
from pathlib import Path, PurePosixPath

MAX_MEMBERS = 64
MAX_TOTAL_BYTES = 1 * 2**30  # unpacked, all members together
MAX_RATIO = 100  # unpacked / packed, per member: model weights compress far less than that
CHUNK = 1 << 20


class UploadRefused(ValueError):
    """An upload that is not unpacked; the message is one line for the user."""


def _safe_name(name: str) -> PurePosixPath:
    path = PurePosixPath(name)
    if not name or "\\" in name or path.is_absolute() or ".." in path.parts or ":" in name:
        raise UploadRefused(f"the zip holds an unsafe path {name!r} (refused: it points outside the folder)")
    return path


def _check_tree(members: list[zipfile.ZipInfo]) -> None:
    """Refuse a name that is both a file and a folder (`a` and `a/b`): unpacking one fails on the other."""
    files, folders = set(), set()
    for info in members:
        parts = _safe_name(info.filename).parts
        folders.update(parts[:end] for end in range(1, len(parts)))
        (folders if info.is_dir() else files).add(parts)
    if clash := files & folders:
        raise UploadRefused(f"the zip holds {'/'.join(min(clash))!r} both as a file and as a folder (refused)")


def _check_members(archive: zipfile.ZipFile, max_members: int) -> list[zipfile.ZipInfo]:
    """The members, once their count, names, types and declared sizes are acceptable."""
    members = archive.infolist()
    if len(members) > max_members:
        raise UploadRefused(f"the zip holds {len(members):,} entries, more than {max_members:,}")
    for info in members:
        _safe_name(info.filename)
        if stat.S_ISLNK(info.external_attr >> 16):
            raise UploadRefused(f"the zip holds a symbolic link {info.filename!r} (refused)")
    _check_tree(members)
    if sum(info.file_size for info in members) > MAX_TOTAL_BYTES:
        raise UploadRefused(f"the zip unpacks to more than {MAX_TOTAL_BYTES >> 30} GB (refused)")
    return members


def _unpack(archive: zipfile.ZipFile, members: list[zipfile.ZipInfo], dest: Path) -> None:
    """Stream each member out, counting the bytes actually produced against the limits."""
    total = 0
    for info in members:
        target = dest.joinpath(*_safe_name(info.filename).parts)
        limit = min(MAX_TOTAL_BYTES - total, max(info.compress_size, 1) * MAX_RATIO)
        written = 0
        try:
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(info) as source, target.open("wb") as sink:
                while chunk := source.read(CHUNK):
                    written += len(chunk)
                    if written > limit:
                        raise UploadRefused(f"{info.filename} expands more than {MAX_RATIO}x or past "
                                            f"{MAX_TOTAL_BYTES >> 30} GB (a zip bomb? refused)")
                    sink.write(chunk)
        except (zipfile.BadZipFile, EOFError, OSError) as exc:
            raise UploadRefused(f"{info.filename}: cannot be unpacked ({exc})") from exc
        total += written


def extract_zip(data: bytes, dest: Path, max_members: int = MAX_MEMBERS) -> Path:
    """Unpack `data` into the new or empty folder `dest`; UploadRefused, with `dest` removed, otherwise.

    `max_members`: entries allowed (a model folder has a few; a zip of images, one per image).
    """
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise UploadRefused(f"not a zip file ({exc})") from exc
    with archive:
        members = _check_members(archive, max_members)
        try:
            _unpack(archive, members, dest)
        except UploadRefused:
            shutil.rmtree(dest, ignore_errors=True)
            raise
    return dest


def find_model_folder(root: Path, marker: str) -> Path:
    """The folder holding `marker` (e.g. model_config.json): the zip's root or its one top-level folder."""
    if (root / marker).is_file():
        return root
    found = [p.parent for p in root.glob(f"*/{marker}") if p.is_file()]
    if len(found) != 1:
        raise UploadRefused(f"no {marker} at the top of the zip or in its one folder")
    return found[0]
