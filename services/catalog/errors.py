"""What can go wrong reading a catalog.

::

    CatalogError               the catalog (or a file it includes) cannot be used
      └── carries problems     each a Problem: file, line, message

Every problem is collected before raising, so that ``kitestream catalog check`` shows
them all at once rather than one per run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["CatalogError", "Problem"]


@dataclass(frozen=True)
class Problem:
    """One thing wrong (or worth a warning) at a place in a file; ``line`` is 1-based."""

    file: Path
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else str(self.file)
        return f"{where}: {self.message}"


class CatalogError(Exception):
    """The catalog has errors; ``problems`` lists each with its file and line."""

    def __init__(self, problems: list[Problem], warnings: list[Problem] | None = None) -> None:
        self.problems = sorted(problems, key=_place)
        self.warnings = sorted(warnings or [], key=_place)
        super().__init__("\n".join(str(p) for p in self.problems))


def _place(problem: Problem) -> tuple[str, int, str]:
    return (str(problem.file), problem.line or 0, problem.message)
