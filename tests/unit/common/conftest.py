"""Fixtures of the stream runtime's unit tests."""

from __future__ import annotations

import asyncio

import pytest

from services.common import trouble


@pytest.fixture
def pauses(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The pauses :class:`~services.common.trouble.KafkaTrouble` asks for, recorded and
    slept on a fake clock that its ``monotonic`` reads (control still goes back to the
    event loop once per pause)."""
    now = [0.0]
    asked: list[float] = []
    sleep = asyncio.sleep

    async def record(delay: float) -> None:
        asked.append(delay)
        now[0] += delay
        await sleep(0)

    monkeypatch.setattr(trouble, "sleep", record)
    monkeypatch.setattr(trouble, "monotonic", lambda: now[0])
    return asked
