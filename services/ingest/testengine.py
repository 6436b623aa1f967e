"""``POST /v1/uploads``: Buildkite's Test Engine upload API, as its collectors use it.

What arrives, and from whom::

    Python collector     application/json     {"format": "json", "run_env": {…}, "data": [...]}
    JS collector         application/json     the same, run_env.ci in lower case
    Ruby collector       application/json     Content-Encoding: gzip, tests without "id"
    bktec upload, curl,  multipart/form-data  format=json|junit, data=@file, run_env[key]=…
    test-collector plugin

Any of them may send ``Token token="…"`` quoted or not (older bktec did not quote).
The receiver's route takes two steps around reading the body::

    suite = suites.authenticate(headers)      # SuiteTokens: the token names the suite, 401
    body = <the body, Content-Type in UPLOAD_MEDIA_TYPES, gzip undone, within the cap>
    upload = read_upload(suite, headers, body, received_at=now, limits=limits)

:func:`read_upload` reads either shape and returns an :class:`Upload`: the
``tests.results`` messages (key = suite) and the 202 body. A malformed test entry is
skipped and reported in ``errors``, as Test Engine does; a malformed request is an
:class:`~services.ingest.errors.HttpError`.
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
from services.ingest.errors import InvalidPayload, PayloadTooLarge
from services.ingest.form import Form, parse_form
from services.ingest.junit import parse_junit
from services.ingest.request import Headers, header, load_json, maybe_gunzip, media_type
from services.ingest.results import DEFAULT_LIMITS, Execution, Limits, build_results, result_kind

__all__ = [
    "UPLOAD_MEDIA_TYPES",
    "CollectorFailure",
    "CollectorHistory",
    "CollectorTest",
    "Upload",
    "read_upload",
    "run_env_from",
]

# What the collectors and bktec send (``+json`` suffixes count as JSON too).
UPLOAD_MEDIA_TYPES = frozenset(
    {"application/json", "text/json", "text/plain", "multipart/form-data"}
)
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


class CollectorFailure(BaseModel):
    """One block of ``failure_expanded``."""

    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True)

    expanded: list[str] | None = None
    backtrace: list[str] | None = None


class CollectorHistory(BaseModel):
    """``history``: timings in seconds (``duration``, or ``start_at`` and ``end_at``)."""

    model_config = ConfigDict(extra="ignore")

    start_at: float | None = None
    end_at: float | None = None
    duration: float | None = None


class CollectorTest(BaseModel):
    """One entry of ``data`` as the collectors send it; unknown keys are ignored."""

    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True)

    id: str | None = None
    scope: str | None = None
    name: str = Field(min_length=1)
    location: str | None = None
    file_name: str | None = None
    result: str | None = None
    failure_reason: str | None = None
    failure_expanded: list[CollectorFailure] | None = None
    history: CollectorHistory | None = None

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
        raise InvalidPayload("run_env must be an object")
    lowered = {str(k).lower(): v for k, v in raw.items()}

    def text(name: str) -> str | None:
        value = lowered.get(name)
        if value is None or isinstance(value, dict | list | bool):
            return None
        return str(value).strip() or None

    return RunEnv(ci=text("ci"), **{name: text(name) for name in _RUN_ENV_FIELDS})


@dataclass
class _Contents:
    """What one request carried, gathered before it becomes messages."""

    limits: Limits
    run_env: dict[str, object] = field(default_factory=dict)
    executions: list[Execution] = field(default_factory=list)
    skipped: int = 0
    errors: list[str] = field(default_factory=list)

    def _report(self, message: str) -> None:
        self.skipped += 1
        if len(self.errors) < self.limits.max_errors:
            self.errors.append(message)

    def _check_count(self, more: int) -> None:
        total = len(self.executions) + more
        if total > self.limits.max_executions:
            raise PayloadTooLarge(
                f"{total} executions in one upload (limit {self.limits.max_executions})"
            )

    def add_json(self, data: object) -> None:
        """Executions from a ``data`` array; bad entries are skipped and described."""
        if not isinstance(data, list):
            raise InvalidPayload("data must be an array of test executions")
        self._check_count(len(data))
        for index, entry in enumerate(data):
            try:
                self.executions.append(CollectorTest.model_validate(entry).execution())
            except ValidationError as exc:
                first = exc.errors()[0]
                loc = ".".join(str(p) for p in first["loc"]) or "entry"
                self._report(f"data[{index}].{loc}: {first['msg']}")

    def add_junit(self, xml: bytes) -> None:
        executions, problems = parse_junit(xml)
        self._check_count(len(executions))
        self.executions += executions
        for problem in problems:
            self._report(problem)


def _read_json_body(raw: bytes, contents: _Contents) -> None:
    document = load_json(raw, "body", contents.limits.max_json_depth)
    if not isinstance(document, dict):
        raise InvalidPayload("the upload must be a JSON object with run_env and data")
    fmt = str(document.get("format") or "json").lower()
    if fmt != "json":
        raise InvalidPayload(f"format {fmt!r} needs multipart/form-data; a JSON body is json")
    contents.add_json(document.get("data"))
    contents.run_env = _as_dict(document.get("run_env"))


def _read_form(form: Form, contents: _Contents) -> str:
    """Read every ``data`` file of the form; the hash of their contents."""
    files = form.files("data")
    if not files:
        raise InvalidPayload("the form has no data file")
    fmt = (form.get("format") or "").strip().lower()
    if fmt not in {"", "json", "junit"}:
        raise InvalidPayload(f"format must be json or junit, not {fmt!r}")
    digest = hashlib.sha256()
    budget = contents.limits.max_inflated_bytes  # for all files together: many small bombs
    for part in files:
        content = maybe_gunzip(part.data, max(budget, 0))
        budget -= len(content)
        digest.update(content)
        if (fmt or ("junit" if content.lstrip()[:1] == b"<" else "json")) == "junit":
            contents.add_junit(content)
            continue
        document = load_json(content, "data file", contents.limits.max_json_depth)
        if isinstance(document, dict):  # a whole {"run_env": …, "data": [...]} saved to a file
            contents.run_env.update(_as_dict(document.get("run_env")))
            document = document.get("data")
        contents.add_json(document)
    contents.run_env.update(form.fields_with_prefix("run_env"))  # the form fields win
    return digest.hexdigest()


def _as_dict(raw: object) -> dict[str, object]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise InvalidPayload("run_env must be an object")
    return raw


def read_upload(
    suite: str,
    headers: Headers,
    body: bytes,
    *,
    received_at: datetime,
    limits: Limits = DEFAULT_LIMITS,
) -> Upload:
    """Read an upload authenticated as ``suite``, its body with ``Content-Encoding``
    undone (the receiver checked its Content-Type against :data:`UPLOAD_MEDIA_TYPES`).

    A multipart Content-Type is read as a form, anything else as JSON. Raises
    ``MalformedBody`` (400), ``PayloadTooLarge`` (413: the body or the files in it past
    ``limits.max_inflated_bytes``, too many executions) or ``InvalidPayload`` (422).
    """
    if len(body) > limits.max_inflated_bytes:
        raise PayloadTooLarge(f"body is larger than {limits.max_inflated_bytes} bytes")
    kind, params = media_type(header(headers, "content-type"))
    contents = _Contents(limits)
    if kind == "multipart/form-data":
        content_hash = _read_form(parse_form(body, params.get("boundary")), contents)
    else:
        _read_json_body(body, contents)
        content_hash = hashlib.sha256(body).hexdigest()
    run_env = run_env_from(contents.run_env)
    upload_id = stable_id("upload", suite, run_env.model_dump(mode="json"), content_hash)
    run_id = stable_id("run", suite, run_env.ci, run_env.key) if run_env.key else upload_id
    results = build_results(
        contents.executions,
        suite=suite,
        upload_id=upload_id,
        run_env=run_env,
        received_at=received_at,
        limits=limits,
    )
    return Upload(suite, upload_id, run_id, results, contents.skipped, contents.errors)
