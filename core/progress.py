"""Progress for long work: on stderr, and only when stderr is a terminal (silent in scripts)."""

from __future__ import annotations

import sys
import time


class Progress:
    def __init__(self, quiet: bool = False, stream=None):
        self.stream = stream or sys.stderr
        self.enabled = not quiet and hasattr(self.stream, "isatty") and self.stream.isatty()
        self.started = time.perf_counter()

    def step(self, message: str) -> None:
        if self.enabled:
            elapsed = time.perf_counter() - self.started
            self.stream.write(f"\r\x1b[2K[{elapsed:6.1f}s] {message}")
            self.stream.flush()

    def bar(self, message: str, done: int, total: int, width: int = 30) -> None:
        """``message [#########.....]  45%``: for work counted in rows."""
        if self.enabled and total:
            filled = int(width * done / total)
            self.step(f"{message} [{'#' * filled}{'.' * (width - filled)}] {100 * done // total:3d}%")

    def done(self) -> None:
        if self.enabled:
            self.stream.write("\r\x1b[2K")
            self.stream.flush()
