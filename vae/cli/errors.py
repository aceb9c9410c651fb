"""Command-line errors: one line on stderr and exit status 2, never a traceback."""

from __future__ import annotations

import sys

EXIT_USAGE = 2
PREFIX = "error: "


def fail(problem: object) -> int:
    """Print `problem` as one `error: ...` line (newlines folded) and return the exit status."""
    print(PREFIX + " ".join(str(problem).split()), file=sys.stderr)
    return EXIT_USAGE


def error_line(output: str) -> str | None:
    """A command's last one-line reason (`error: ...`) in its output, without the prefix; None without one."""
    errors = [line.removeprefix(PREFIX) for line in output.splitlines() if line.startswith(PREFIX)]
    return errors[-1] if errors else None
