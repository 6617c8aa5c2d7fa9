"""Shared CLI plumbing: one-line errors and exit codes."""

from __future__ import annotations

import sys
from collections.abc import Callable

from pyimgano.errors import PyImganoError

EXIT_OK = 0
EXIT_GATE = 1
EXIT_USAGE = 2


def run_cli(prog: str, body: Callable[[], int]) -> int:
    """Run ``body``; turn pyimgano errors (and OS errors) into one stderr line and exit 2."""
    try:
        return body()
    except PyImganoError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        name = f" {exc.filename}" if getattr(exc, "filename", None) else ""
        print(f"{prog}: error:{name} {exc.strerror or exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"{prog}: interrupted; no report was written", file=sys.stderr)
        return 130
