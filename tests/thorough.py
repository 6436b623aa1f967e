"""How long the longest property tests and sweeps run: a short form by default, whole
with ``KITESTREAM_THOROUGH=1`` (``make test-thorough``).

``make test`` runs every test, the longest few in a short form: a fifth of their
hypothesis examples, a shorter stream, a sweep that takes each case once instead of
once per base. That keeps the suite well under 15 minutes on a 2-core machine, and each
short form still fails on what it guards (they check the same property on fewer
inputs). The whole forms are for a change to what they guard (the flakiness core and
its changelog, the receiver's readers, the dispatcher's and correlator's bounded
state) and before a release.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TypeVar

__all__ = ["THOROUGH", "THOROUGH_ENV", "examples", "length", "spread"]

T = TypeVar("T")

THOROUGH_ENV = "KITESTREAM_THOROUGH"
THOROUGH = os.environ.get(THOROUGH_ENV, "") not in ("", "0")

SHORT_FRACTION = 5


def examples(n: int) -> int:
    """Hypothesis ``max_examples``: ``n`` when thorough, else a fifth (at least 10)."""
    return n if THOROUGH else max(10, n // SHORT_FRACTION)


def length(whole: int, short: int) -> int:
    """A stream's length: ``whole`` when thorough, else ``short``."""
    return whole if THOROUGH else short


def spread(items: Sequence[T], i: int) -> list[T]:
    """Which of ``items`` the ``i``-th case of a sweep runs on: every one when
    thorough, else one, in turn (each case once, the items taking turns)."""
    return list(items) if THOROUGH else [items[i % len(items)]]
