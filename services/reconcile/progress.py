"""A progress bar on stderr: redrawn in place on a terminal, a line per step otherwise."""

from __future__ import annotations

import sys
from typing import TextIO

__all__ = ["Progress"]

WIDTH = 30


class Progress:
    def __init__(self, label: str, total: float, stream: TextIO | None = None) -> None:
        self.label = label
        self.total = max(total, 1e-9)
        self.stream = stream or sys.stderr
        self.live = self.stream.isatty()
        self.last = -1

    def show(self, done: float, detail: str) -> None:
        """Draw ``done`` of ``total`` with ``detail`` (on a pipe: whenever 10 % more done)."""
        share = min(1.0, max(0.0, done / self.total))
        percent = int(share * 100)
        if not self.live and percent // 10 == self.last // 10 and percent < 100:
            return
        self.last = percent
        bar = "#" * int(share * WIDTH)
        line = f"{self.label} [{bar:<{WIDTH}}] {percent:3d}% {detail}"
        self.stream.write(f"\r{line}\033[K" if self.live else f"{line}\n")
        self.stream.flush()

    def close(self) -> None:
        if self.live:
            self.stream.write("\n")
            self.stream.flush()
