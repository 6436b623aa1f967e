"""How a service's stopping failure is put in its one log line."""

from __future__ import annotations

from aiokafka.errors import KafkaConnectionError

from services.common.lifecycle import one_line
from services.common.processor import ProcessorError


def test_the_line_names_the_failure_type_once() -> None:
    assert one_line(KafkaConnectionError("Unable to bootstrap")) == (
        "KafkaConnectionError: Unable to bootstrap"
    )
    assert one_line(ProcessorError("fenced")) == "ProcessorError: fenced"


def test_an_empty_or_multi_line_message_still_makes_one_line() -> None:
    assert one_line(TimeoutError()) == "TimeoutError"
    assert one_line(OSError("first\n  second")) == "OSError: first second"
