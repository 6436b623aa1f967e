"""``POST /v1/uploads``: Buildkite's Test Engine upload API, as its collectors use it.

What arrives, and from whom::

    Python collector   application/json   {"format": "json", "run_env": {"CI": …}, "data": [...]}
    JS collector       application/json   same, run_env.ci in lower case
    Ruby collector     application/json   Content-Encoding: gzip, tests without "id"
    bktec              application/json   Authorization: Token token=abc (unquoted)
    curl / plugin      multipart/form-data  format=json|junit, data=@file, run_env[key]=…

:func:`parse_upload` authenticates (the token names the suite), undoes gzip, reads
either shape and returns an :class:`Upload`: the ``tests.results`` messages (key =
suite) and the 202 body. A malformed test entry is skipped and reported in
``errors`` as Test Engine does; a malformed request is an
:class:`~services.ingest.errors.IngestError`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from schemas.base import stable_id
from schemas.tests import RunEnv, TestResult
from services.ingest.auth import SuiteTokens
from services.ingest.errors import SchemaViolation, TooLarge, UnsupportedMedia
from services.ingest.form import Form, parse_form
from services.ingest.junit import parse_junit
from services.ingest.request import Headers, decode_body, load_json, maybe_gunzip, media_type
from services.ingest.results import DEFAULT_LIMITS, Execution, Limits, build_results, result_kind

__all__ = ["Upload", "parse_upload", "run_env_from"]

_JSON_TYPES = frozenset({"", "application/json", "text/json", "text/plain"})
_RUN_ENV_FIELDS = ("key", "number", "job_id", "branch", "commit_sha", "message", "url")


@dataclass(frozen=True)
class Upload:
    """A verified upload: its messages for ``tests.results`` and what to answer."""

    suite: str
    upload_id: str
    run_id: str
    results: list[TestResult]
    skipped: int = 0
    errors: list[str] = field(default_factory=list)

    def response_body(self, run_url: str | None = None) -> dict[str, Any]:
        """The 202 body collectors expect (``run_url`` when the deployment has one)."""
        return {
            "id": self.upload_id,
            "run_id": self.run_id,
            "queued": len(self.results),
            "skipped": self.skipped,
            "errors": self.errors,
            "run_url": run_url,
        }


class _Failure(BaseModel):
    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True)

    expanded: list[str] | None = None
    backtrace: list[str] | None = None


class _History(BaseModel):
    model_config = ConfigDict(extra="ignore")

    start_at: float | None = None
    end_at: float | None = None
    duration: float | None = None


class _JsonTest(BaseModel):
    """One entry of ``data`` as the collectors send it; unknown keys are ignored."""

    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True)

    id: str | None = None
    scope: str | None = None
    name: str = Field(min_length=1)
    location: str | None = None
    file_name: str | None = None
    result: str | None = None
    failure_reason: str | None = None
    failure_expanded: list[_Failure] | None = None
    history: _History | None = None

    def execution(self) -> Execution:
        return Execution(
            name=self.name,
            scope=self.scope or "",
            id=self.id or None,
            location=self.location or None,
            file_name=self.file_name or None,
            result=result_kind(self.result),
            duration_s=self._duration(),
            failure_reason=self.failure_reason or None,
            failure_expanded=[
                (block.expanded or [], block.backtrace or [])
                for block in self.failure_expanded or []
            ],
        )

    def _duration(self) -> float | None:
        history = self.history
        if history is None:
            return None
        if history.duration is not None:
            return history.duration if history.duration >= 0 else None
        if history.start_at is not None and history.end_at is not None:
            span = history.end_at - history.start_at
            return span if span >= 0 else None
        return None


def run_env_from(raw: object) -> RunEnv:
    """The run env from a collector's ``run_env`` (``CI`` or ``ci``, numbers as text)."""
    if raw is None:
        return RunEnv()
    if not isinstance(raw, Mapping):
        raise SchemaViolation("run_env must be an object")
    lowered = {str(k).lower(): v for k, v in raw.items()}

    def text(name: str) -> str | None:
        value = lowered.get(name)
        if value is None or isinstance(value, dict | list | bool):
            return None
        return str(value).strip() or None

    return RunEnv(ci=text("ci"), **{name: text(name) for name in _RUN_ENV_FIELDS})


def _json_executions(
    data: object, limits: Limits, errors: list[str], where: str = "data"
) -> tuple[list[Execution], int]:
    """Executions from a ``data`` array; bad entries are counted and described."""
    if not isinstance(data, list):
        raise SchemaViolation(f"{where} must be an array of test executions")
    if len(data) > limits.max_executions:
        raise TooLarge(f"{len(data)} executions in one upload (limit {limits.max_executions})")
    executions: list[Execution] = []
    skipped = 0
    for index, entry in enumerate(data):
        try:
            executions.append(_JsonTest.model_validate(entry).execution())
        except ValidationError as exc:
            skipped += 1
            if len(errors) < limits.max_errors:
                first = exc.errors()[0]
                loc = ".".join(str(p) for p in first["loc"]) or "entry"
                errors.append(f"{where}[{index}].{loc}: {first['msg']}")
    return executions, skipped


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _from_json_body(
    document: object, limits: Limits
) -> tuple[RunEnv, list[Execution], int, list[str]]:
    if not isinstance(document, dict):
        raise SchemaViolation("the upload must be a JSON object with run_env and data")
    fmt = str(document.get("format") or "json").lower()
    if fmt != "json":
        raise SchemaViolation(f"format {fmt!r} needs multipart/form-data; a JSON body is json")
    errors: list[str] = []
    executions, skipped = _json_executions(document.get("data"), limits, errors)
    return run_env_from(document.get("run_env")), executions, skipped, errors


def _from_form(form: Form, limits: Limits) -> tuple[RunEnv, list[Execution], int, list[str], str]:
    files = form.files("data")
    if not files:
        raise SchemaViolation("the form has no data file")
    fmt = (form.get("format") or "").strip().lower()
    errors: list[str] = []
    executions: list[Execution] = []
    skipped = 0
    run_env_raw: dict[str, object] = {}
    digest = hashlib.sha256()
    for part in files:
        content = maybe_gunzip(part.data, limits.max_inflated_bytes)
        digest.update(content)
        kind = fmt or ("junit" if content.lstrip()[:1] == b"<" else "json")
        if kind == "junit":
            found, bad = parse_junit(content)
            executions += found
            skipped += len(bad)
            errors += bad[: max(limits.max_errors - len(errors), 0)]
        elif kind == "json":
            document = load_json(content, "data file")
            if isinstance(document, dict):  # {"run_env": …, "data": [...]} saved whole
                run_env_raw.update(document.get("run_env") or {})
                document = document.get("data")
            found, bad_count = _json_executions(document, limits, errors)
            executions += found
            skipped += bad_count
        else:
            raise SchemaViolation(f"format must be json or junit, not {fmt!r}")
    if len(executions) > limits.max_executions:
        raise TooLarge(
            f"{len(executions)} executions in one upload (limit {limits.max_executions})"
        )
    run_env_raw.update(form.fields_with_prefix("run_env"))
    return run_env_from(run_env_raw), executions, skipped, errors, digest.hexdigest()


def parse_upload(
    headers: Headers,
    body: bytes,
    *,
    suites: SuiteTokens,
    received_at: datetime,
    limits: Limits = DEFAULT_LIMITS,
) -> Upload:
    """Authenticate and read one upload request into ``tests.results`` messages.

    Raises ``Unauthorized`` (401) before reading the body, then ``UnsupportedMedia``
    (415), ``MalformedBody`` (400), ``TooLarge`` (413) or ``SchemaViolation`` (422).
    """
    suite = suites.authenticate(headers)
    kind, params = media_type(headers)
    raw = decode_body(headers, body, limits.max_inflated_bytes)
    if kind == "multipart/form-data":
        form = parse_form(raw, params.get("boundary"))
        run_env, executions, skipped, errors, content_hash = _from_form(form, limits)
    elif kind in _JSON_TYPES or kind.endswith("+json"):
        run_env, executions, skipped, errors = _from_json_body(load_json(raw), limits)
        content_hash = _sha256(raw)
    else:
        raise UnsupportedMedia(
            f"Content-Type {kind!r}: send application/json or multipart/form-data"
        )
    upload_id = stable_id("upload", suite, run_env.model_dump(mode="json"), content_hash)
    run_id = stable_id("run", suite, run_env.ci, run_env.key) if run_env.key else upload_id
    results = build_results(
        executions,
        suite=suite,
        upload_id=upload_id,
        run_env=run_env,
        received_at=received_at,
        limits=limits,
    )
    return Upload(suite, upload_id, run_id, results, skipped, errors)
