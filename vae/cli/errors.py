"""Command-line errors: one line on stderr and exit status 2, never a traceback."""

from __future__ import annotations

import sys

EXIT_USAGE = 2


def fail(problem: object) -> int:
    """Print `problem` as one `error: ...` line (newlines folded) and return the exit status."""
    print("error: " + " ".join(str(problem).split()), file=sys.stderr)
    return EXIT_USAGE
