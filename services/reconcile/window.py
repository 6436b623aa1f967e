"""Builds created in a time window, narrowed when the API refuses to page that deep.

The API pages newest first and answers 400 past some page depth. A window too big for
that is cut in two and each half listed on its own, down to ``min_span``::

    [lo ─────────────────────── hi)   page 1, 2, … 400
    [lo ───────── mid)[mid ──── hi)   each half from page 1 (builds seen twice count once)
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from services.reconcile import DeepPage
from services.reconcile.api import BuildkiteApi

__all__ = ["builds_in"]

log = logging.getLogger(__name__)

MIN_SPAN = timedelta(minutes=1)


async def builds_in(
    api: BuildkiteApi,
    pipeline: str | None,
    lo: datetime,
    hi: datetime,
    *,
    finished_from: datetime | None = None,
    min_span: timedelta = MIN_SPAN,
) -> dict[str, dict[str, Any]]:
    """Builds created in ``[lo, hi]`` (of ``pipeline``, or the whole organization), by id."""
    found: dict[str, dict[str, Any]] = {}
    try:
        async for page in api.builds(
            pipeline, created_from=lo, created_to=hi, finished_from=finished_from
        ):
            for build in page:
                if isinstance(build.get("id"), str):
                    found[build["id"]] = build
    except DeepPage:
        span = hi - lo
        if span <= min_span:
            raise
        mid = lo + timedelta(seconds=int(span.total_seconds() // 2))
        log.info("%s: too many builds to page through; listing halves", pipeline or "organization")
        for a, b in ((lo, mid), (mid, hi)):
            found.update(
                await builds_in(api, pipeline, a, b, finished_from=finished_from, min_span=min_span)
            )
    return found
