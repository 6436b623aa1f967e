"""Alerts on ``alerts`` (key = service, or test key for flakiness alerts). **Contract.**"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, core_schema

from schemas.base import Message, UtcDateTime

__all__ = ["Alert", "AlertKind", "Severity"]

AlertKind = Literal["failure_deploy_incident", "flaky_test", "flaky_test_recovered"]
Severity = Literal["critical", "warning", "info"]


@dataclass(frozen=True)
class NullIsEmpty:
    """``null`` reads as the empty value, as a missing key does, and the JSON Schema says so.

    Other systems write to ``alerts`` too, and some write ``"deploy": null`` for a part they
    do not have. Only ``null`` is let through: any other value must still be of the part's
    type, so what is really unreadable still fails validation.
    """

    empty: Callable[[], object]
    shown: str  # the empty value as JSON, for the schema's description

    def __get_pydantic_core_schema__(
        self, source: object, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        return core_schema.no_info_before_validator_function(self._read, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {
            "anyOf": [handler(schema), {"type": "null"}],
            "description": f"null, or the key missing, means the same as {self.shown}",
        }

    def _read(self, value: object) -> object:
        return self.empty() if value is None else value


Part = Annotated[dict[str, Any], NullIsEmpty(dict, "{}")]
Links = Annotated[dict[str, str], NullIsEmpty(dict, "{}")]
Reasons = Annotated[list[str], NullIsEmpty(list, "[]")]


class Alert(Message):
    """What the dispatcher delivers. ``alert_id`` is stable: the same cause, the same id.

    ``failure``, ``deploy``, ``incident`` and ``test`` hold what the producer knows of
    each (empty when not part of this kind); ``links`` maps names to URLs a person can
    open (``build``, ``deploy``, ``incident``, ``evidence``). Every optional part may be
    left out or be ``null``: both read as empty (``{}``, ``[]``), or as ``null`` for
    ``service``, ``score`` and ``failing_tests_known_flaky``.
    """

    alert_id: str
    kind: AlertKind
    severity: Severity
    service: str | None = None
    created_at: UtcDateTime
    summary: str
    failure: Part = {}
    deploy: Part = {}
    incident: Part = {}
    test: Part = {}
    reasons: Reasons = []
    links: Links = {}
    score: float | None = None
    failing_tests_known_flaky: bool | None = None
