"""How a loop waits out Kafka errors: pauses that double to 5 s, a limit, a reset."""

from __future__ import annotations

import pytest
from aiokafka.errors import KafkaConnectionError

from services.common.trouble import KafkaGaveUp, KafkaTrouble


async def test_pauses_double_to_five_seconds_and_a_good_turn_starts_again(
    pauses: list[float],
) -> None:
    trouble = KafkaTrouble("svc", limit_s=60)
    for _ in range(6):
        await trouble.wait_after(KafkaConnectionError("gone"))
    trouble.over()
    await trouble.wait_after(KafkaConnectionError("gone"))
    assert pauses == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0, 0.5]


async def test_failing_past_the_limit_gives_up_naming_the_last_error(
    pauses: list[float], caplog: pytest.LogCaptureFixture
) -> None:
    trouble = KafkaTrouble("store", limit_s=10)
    for _ in range(5):
        await trouble.wait_after(KafkaConnectionError("gone"))
    with pytest.raises(KafkaGaveUp, match=r"over 10s; last error: KafkaConnectionError"):
        await trouble.wait_after(KafkaConnectionError("gone"))
    assert sum(pauses) > 10  # 0.5 + 1 + 2 + 4 + 5: the sixth failure is past the limit
    assert pauses == [0.5, 1.0, 2.0, 4.0, 5.0]
    assert "store: KafkaConnectionError" in caplog.text
    assert "trying again in 0.5s" in caplog.text
