"""Open only regular files, never block, never read more than a bound.

`open()` on a named pipe waits for a writer, for ever: one FIFO put where a bundle's weights were
froze the whole server. Here a file is opened with O_NONBLOCK (a FIFO opens at once) and
O_NOFOLLOW (a link is refused, so a file cannot point outside its folder), then `fstat` on the
open descriptor decides: anything but a regular file (pipe, socket, directory, device) is refused
before a byte is read, and so is a file over `max_bytes`.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import BinaryIO

_FLAGS = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a named pipe"), (stat.S_ISSOCK, "a socket"),
          (stat.S_ISCHR, "a device"), (stat.S_ISBLK, "a device"))


class NotARegularFile(OSError):
    """The path exists but is not a regular file that may be read; the message says what it is."""


def describe(mode: int) -> str:
    """'a named pipe', 'a directory', ... for a file mode that is not a regular file."""
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def _open_regular(path: str | Path) -> tuple[int, os.stat_result]:
    """A descriptor of the regular file at `path` and its stat; NotARegularFile for anything else."""
    try:
        fd = os.open(path, _FLAGS)
    except OSError as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        # ELOOP: a symbolic link (O_NOFOLLOW); ENXIO: a socket; ENODEV and friends: devices.
        kind = "a symbolic link" if os.path.islink(path) else "not a regular file"
        raise NotARegularFile(f"{Path(path).name} is {kind}") from exc
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise NotARegularFile(f"{Path(path).name} is {describe(info.st_mode)}")
    return fd, info


def read_regular(path: str | Path, max_bytes: int) -> bytes:
    """The bytes of the regular file at `path`, at most `max_bytes` of them.

    Raises FileNotFoundError when nothing is there, NotARegularFile for a pipe, socket, directory,
    device, symbolic link or a file over `max_bytes`, and OSError for other failures.
    """
    fd, info = _open_regular(path)
    try:
        if info.st_size > max_bytes:
            raise NotARegularFile(f"{Path(path).name} is larger than {max_bytes:,} bytes")
        chunks, left = [], max_bytes + 1
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        data = b"".join(chunks)
        if len(data) > max_bytes:  # it grew after fstat
            raise NotARegularFile(f"{Path(path).name} is larger than {max_bytes:,} bytes")
        return data
    finally:
        os.close(fd)


def open_regular(path: str | Path, max_bytes: int) -> BinaryIO:
    """The regular file at `path` opened for binary reading (errors as `read_regular`, before any read)."""
    fd, info = _open_regular(path)
    if info.st_size > max_bytes:
        os.close(fd)
        raise NotARegularFile(f"{Path(path).name} is larger than {max_bytes:,} bytes")
    return os.fdopen(fd, "rb")


def read_tail(path: str | Path, n_bytes: int) -> bytes:
    """The last `n_bytes` of the regular file at `path` (errors as `read_regular`)."""
    fd, info = _open_regular(path)
    try:
        os.lseek(fd, max(0, info.st_size - n_bytes), os.SEEK_SET)
        return os.read(fd, n_bytes)
    finally:
        os.close(fd)
