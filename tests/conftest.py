"""Fixtures shared by every test: a real Kafka broker and isolated topics per test.

Unit tests (``tests/unit``) use none of these and run without a broker.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from hypothesis import HealthCheck, settings

from services.common.topics import Topics, create_topics, delete_topics, topic_specs
from tests.kafka_broker import kafka_bootstrap_servers
from tests.postgres import postgres_server

# Hypothesis times each example (``deadline``) and its input generation (``too_slow``) by
# the wall clock: on a shared 2-core machine a one-second stall fails either, whatever the
# code under test does. Tests never assert on wall-clock speed, so no property test does.
settings.register_profile("kitestream", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("kitestream")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Everything under tests/integration carries the ``integration`` marker."""
    for item in items:
        if "/tests/integration/" in str(item.path):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """The bootstrap address of a real Kafka broker for this test session."""
    with kafka_bootstrap_servers() as bootstrap:
        yield bootstrap


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A real PostgreSQL server: the session's (``python -m tests.session``), or one started
    here for a plain pytest run and stopped at its end (see tests/postgres.py)."""
    with postgres_server() as url:
        yield url


@pytest.fixture
async def kafka_topics(kafka_bootstrap: str) -> AsyncIterator[Topics]:
    """Every contract topic under a prefix unique to this test, deleted afterwards."""
    topics = Topics(prefix=f"t{uuid.uuid4().hex[:10]}.")
    specs = topic_specs(topics)
    await create_topics(kafka_bootstrap, specs, partitions=3)
    yield topics
    await delete_topics(kafka_bootstrap, topics.prefix)
