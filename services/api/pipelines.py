"""``/api/v1/pipelines`` and ``/api/v1/pipelines/{slug}/builds``: pipelines and their builds.

Builds are newest first by creation time (the time of the latest message for a build
known only from its jobs), filtered by branch, state, commit and a time range.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from services.api.ask import Ask
from services.api.cursor import Key, Order
from services.api.errors import NotFound
from services.api.pages import Json, page, plain
from services.api.params import CURSOR, LIMIT, Param
from services.store.tables import builds, pipelines

__all__ = [
    "BUILD_PARAMS",
    "PIPELINE_PARAMS",
    "build_time",
    "list_builds",
    "list_pipelines",
    "recent_builds",
]

PIPELINE_PARAMS = (CURSOR, LIMIT)
BUILD_PARAMS = (
    Param("branch", "Only builds of this branch."),
    Param("state", "Only builds in this state (passed, failed, running, canceled, …)."),
    Param("commit", "Only builds of this commit (full SHA)."),
    Param("since", "Created at or after this time.", "time"),
    Param("until", "Created before this time.", "time"),
    CURSOR,
    LIMIT,
)

# When a build was created; a build known only from its jobs has no created_at yet.
build_time: sa.ColumnElement[Any] = sa.func.coalesce(builds.c.created_at, builds.c.event_at)
BUILD_ORDER = Order(Key(build_time, descending=True), Key(builds.c.id, descending=True))
PIPELINE_ORDER = Order(Key(pipelines.c.slug))


def list_pipelines(ask: Ask) -> Json:
    return page(ask.conn, sa.select(pipelines), PIPELINE_ORDER, ask.query, "pipelines")


def list_builds(ask: Ask) -> Json:
    slug = ask.path_value("slug")
    q = ask.query
    select = sa.select(builds).where(builds.c.pipeline == slug)
    if branch := q.text("branch"):
        select = select.where(builds.c.branch == branch)
    if state := q.text("state"):
        select = select.where(builds.c.state == state)
    if commit := q.text("commit"):
        select = select.where(builds.c.commit == commit)
    if since := q.time("since"):
        select = select.where(build_time >= since)
    if until := q.time("until"):
        select = select.where(build_time < until)
    result = page(ask.conn, select, BUILD_ORDER, q, f"builds:{slug}")
    if not result["items"] and q.cursor() is None and not _known(ask.conn, slug):
        raise NotFound(f"no pipeline {slug!r} in the store")
    return result


def _known(conn: sa.Connection, slug: str) -> bool:
    found = conn.execute(sa.select(pipelines.c.slug).where(pipelines.c.slug == slug)).first()
    if found is not None:
        return True
    return (
        conn.execute(sa.select(builds.c.id).where(builds.c.pipeline == slug).limit(1)).first()
        is not None
    )


def recent_builds(conn: sa.Connection, slugs: list[str], limit: int) -> list[Json]:
    if not slugs:
        return []
    rows = conn.execute(
        sa.select(builds)
        .where(builds.c.pipeline.in_(slugs))
        .order_by(*BUILD_ORDER.order_by())
        .limit(limit)
    ).all()
    return [plain(r) for r in rows]
