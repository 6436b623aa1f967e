"""Which model describes each topic's values, and their generated JSON Schemas.

``python -m schemas`` rewrites ``schemas/json/*.schema.json`` from the models; a test
fails when the checked-in files differ from what the models generate.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from pydantic import BaseModel

from schemas.alerts import Alert
from schemas.buildkite import AgentEvent, BuildEvent, JobEvent
from schemas.deadletter import DeadLetter
from schemas.flakiness import FlakinessState, TestRun
from schemas.operations import DeployEvent, IncidentEvent
from schemas.quarantine import QuarantineChange
from schemas.tests import TestResult

__all__ = ["JSON_DIR", "TOPIC_MODELS", "render_all", "render_schema", "schema_of"]

JSON_DIR = Path(__file__).with_name("json")

# Topic (unprefixed contract name) -> the model of its values.
TOPIC_MODELS: dict[str, type[BaseModel]] = {
    "buildkite.builds": BuildEvent,
    "buildkite.jobs": JobEvent,
    "buildkite.agents": AgentEvent,
    "tests.results": TestResult,
    "deploys": DeployEvent,
    "incidents": IncidentEvent,
    "flakiness.state": FlakinessState,
    "tests.runs": TestRun,
    "alerts": Alert,
    "tests.quarantine": QuarantineChange,
    "kitestream.dlq": DeadLetter,
}


def schema_of(topic: str, model: type[BaseModel]) -> dict[str, Any]:
    """The JSON Schema of ``topic``'s values, as ``json/<topic>.schema.json`` holds it."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://kitestream.dev/schemas/{topic}.schema.json",
        **model.model_json_schema(mode="serialization"),
    }


def render_schema(topic: str, model: type[BaseModel]) -> bytes:
    schema = schema_of(topic, model)
    return orjson.dumps(schema, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"


def render_all() -> dict[Path, bytes]:
    """Every schema file as it should be on disk."""
    return {JSON_DIR / f"{t}.schema.json": render_schema(t, m) for t, m in TOPIC_MODELS.items()}
