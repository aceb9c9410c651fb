"""Whether a process still runs and is the one that was started (a pid can be reused)."""

from __future__ import annotations

import os
from pathlib import Path


def _proc_stat(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name (None where /proc has no such file)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def process_start_time(pid: int) -> str:
    """Start time of a process in clock ticks since boot ('' where /proc is unavailable)."""
    fields = _proc_stat(pid)
    return fields[19] if fields else ""


def process_alive(pid: int, start: str = "") -> bool:
    """True while `pid` runs and is the same process (zombies count as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    fields = _proc_stat(pid)
    if fields is None:
        return True  # no /proc: trust kill(0)
    return fields[0] != "Z" and (not start or fields[19] == start)
