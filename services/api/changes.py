"""``POST /api/v1/quarantine``: the one write of the query API, published, never stored.

A change needs a write token (``KITESTREAM_WRITE_TOKENS``, ``Authorization: Bearer …``),
on loopback too. The body names the test, by ``key`` (a test the store has seen) or by
``suite``, ``scope``, ``name`` (and ``file``), and says what to make it::

    {"key": "payments-pytest/tests/test_pay.py/test_refund", "state": "muted",
     "reason": "flaky since the ledger upgrade", "by": "alice",
     "until": "2026-12-11T00:00:00Z"}

The API reads the test's current state from the store, lets
:func:`~services.quarantine.state.transition` decide, and publishes the change on
``tests.quarantine`` (key = test key); the store writes it when it reads it back.
Answers: 202 ``{"changed": true, "change": {…}}``; 200 ``{"changed": false, "state"}``
when nothing changes (unmuting an active test); 401/403 without a good write token;
400/413/422 for a bad body; 404 for a key the store does not know; 503 when Kafka
does not take it.

The store reads changes back after a moment, so the API also remembers the changes it
published itself (:class:`Publisher`), and decides from the newer of the two: a mute
followed at once by an unmute is two changes, not one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from schemas.quarantine import QuarantineChange, QuarantineState
from services.api.access import WriteAccess
from services.api.body import json_body
from services.api.errors import (
    HttpError,
    InvalidBody,
    NotFound,
    StoreUnavailable,
    Unpublished,
)
from services.api.quarantine import current_change, file_of, identity_of
from services.common.kafka import make_producer, send_with_deadline
from services.common.topics import Topic, Topics, create_topics, topic_specs
from services.quarantine.state import ChangeRequest, QuarantineError, TestIdentity, transition

__all__ = ["MAX_BODY", "ChangeBody", "Publisher", "apply_change", "change_endpoint"]

log = logging.getLogger(__name__)

MAX_BODY = 16 * 1024
SEND_DEADLINE_S = 10.0


class ChangeBody(BaseModel):
    """A request body of ``POST /api/v1/quarantine``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    key: str | None = Field(default=None, min_length=1, max_length=2000)
    suite: str | None = Field(default=None, min_length=1, max_length=200)
    scope: str = Field(default="", max_length=1000)
    name: str | None = Field(default=None, min_length=1, max_length=1000)
    file: str | None = Field(default=None, max_length=1000)
    state: QuarantineState
    reason: str = Field(default="", max_length=500)
    by: str = Field(min_length=1, max_length=100)
    until: AwareDatetime | None = None


class Publisher:
    """The API's producer of ``tests.quarantine``, made in the app's lifespan.

    Started in the lifespan (a broker that is away then only logs a warning: reads go
    on) and again on the first change if it was not; the changes it published are
    remembered by key (see the module docstring).
    """

    def __init__(self, bootstrap_servers: str, topics: Topics) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.topic = topics.name(Topic.QUARANTINE)
        self._topics = topics
        self._producer: AIOKafkaProducer | None = None
        self._lock = asyncio.Lock()
        self.published: dict[str, QuarantineChange] = {}

    async def start(self) -> None:
        async with self._lock:
            if self._producer is not None:
                return
            spec = [s for s in topic_specs(self._topics) if s.name == self.topic]
            await asyncio.wait_for(create_topics(self.bootstrap_servers, spec), 20)
            producer = make_producer(self.bootstrap_servers, client_id="kitestream-api")
            try:
                await asyncio.wait_for(producer.start(), 20)
            except BaseException:
                await producer.stop()
                raise
            self._producer = producer

    async def try_start(self) -> None:
        try:
            await self.start()
        except (KafkaError, TimeoutError, OSError) as exc:
            log.warning("Kafka not reachable at start (%r); quarantine changes retry it", exc)

    async def stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None

    async def publish(self, change: QuarantineChange) -> None:
        try:
            await self.start()
            assert self._producer is not None  # start() made it
            await send_with_deadline(
                self._producer,
                self.topic,
                change.to_json(),
                key=change.key.encode(),
                deadline_s=SEND_DEADLINE_S,
            )
        except (KafkaError, TimeoutError, OSError) as exc:
            log.warning("quarantine change for %s not published: %r", change.key, exc)
            raise Unpublished("Kafka did not take the change; nothing was changed") from None
        self.published[change.key] = change

    def newer(self, stored: QuarantineChange | None, key: str) -> QuarantineChange | None:
        mine = self.published.get(key)
        if mine is None or (
            stored is not None
            and (stored.at, stored.change_id)
            >= (
                mine.at,
                mine.change_id,
            )
        ):
            return stored
        return mine


def _identity(conn: sa.Connection, body: ChangeBody) -> TestIdentity:
    if body.key is not None:
        if body.suite is not None or body.name is not None:
            raise InvalidBody("name the test by key, or by suite, scope and name: not both")
        found = identity_of(conn, body.key)
        if found is None:
            raise NotFound(
                f"no test {body.key!r} in the store; name it by suite, scope and name instead"
            )
        return found
    if body.suite is None or body.name is None:
        raise InvalidBody("name the test: key, or suite and name (and scope, file)")
    file = body.file or file_of(conn, body.suite, body.scope, body.name)
    return TestIdentity(body.suite, body.scope, body.name, file)


def _read(engine: sa.Engine, body: ChangeBody) -> tuple[TestIdentity, QuarantineChange | None]:
    try:
        with engine.connect() as conn:
            test = _identity(conn, body)
            return test, current_change(conn, test.key)
    except (sa.exc.OperationalError, sa.exc.ProgrammingError) as exc:
        log.warning("cannot read the store: %s", type(exc.orig).__name__)
        raise StoreUnavailable("the store's database cannot be read (not migrated yet?)") from None


async def apply_change(
    engine: sa.Engine, publisher: Publisher, body: ChangeBody, now: datetime
) -> QuarantineChange | None:
    """Publish the change ``body`` asks for at ``now``; ``None`` when nothing changes.
    :class:`HttpError` when refused (the console's form calls this too)."""
    test, stored = await run_in_threadpool(_read, engine, body)
    asked = ChangeRequest(body.state, body.by, body.reason, body.until)
    try:
        change = transition(test, publisher.newer(stored, test.key), asked, now)
    except QuarantineError as exc:
        raise InvalidBody(str(exc)) from None
    if change is not None:
        await publisher.publish(change)
        log.info("%s %s by %s (%s)", change.state, change.key, change.set_by, change.reason)
    return change


def change_endpoint(
    engine: sa.Engine,
    access: WriteAccess,
    publisher: Publisher,
    answer: Callable[[Any, int], Response],
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> Callable[[Request], Awaitable[Response]]:
    """The ``POST`` handler; ``answer(body, status)`` renders JSON."""

    async def endpoint(request: Request) -> Response:
        try:
            access.check(request.headers.get("authorization"))
            body = json_body(await request.body(), ChangeBody, limit=MAX_BODY)
            change = await apply_change(engine, publisher, body, clock())
        except HttpError as exc:
            if exc.status in (401, 403):
                log.info("quarantine change refused: %s", exc.detail)
            return answer(exc.to_body(), exc.status)
        if change is None:
            key = body.key or TestIdentity(body.suite or "", body.scope, body.name or "",
                                           body.file or None).key  # fmt: skip
            return answer({"changed": False, "key": key, "state": "active"}, 200)
        return answer({"changed": True, "change": change.model_dump(mode="json")}, 202)

    return endpoint
