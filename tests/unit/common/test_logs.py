"""Logging set-up: JSON lines with extra fields, text on request, bad levels survive."""

from __future__ import annotations

import logging

import orjson

from services.common.logs import JsonFormatter, configure_logging


def test_json_lines_carry_the_message_level_and_extra_fields() -> None:
    record = logging.makeLogRecord(
        {"name": "svc", "levelname": "WARNING", "msg": "refused %s", "args": ("x",)}
    )
    record.reason = "bad_token"
    line = orjson.loads(JsonFormatter().format(record))
    assert line["message"] == "refused x"
    assert line["level"] == "warning"
    assert line["reason"] == "bad_token"


def test_an_unknown_level_falls_back_to_info() -> None:
    root = logging.getLogger()
    before = root.level, list(root.handlers)
    try:
        configure_logging("text", "verbose")
        assert root.level == logging.INFO
        assert logging.getLogger("aiokafka").level == logging.CRITICAL
    finally:
        root.setLevel(before[0])
        root.handlers[:] = before[1]
