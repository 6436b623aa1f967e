"""``POST /api/deploys`` and ``POST /api/incidents``: small JSON bodies any tool can send.

Both take ``Authorization: Bearer <token>`` (``KITESTREAM_API_TOKENS``) and
``application/json`` (gzip allowed). Field names are the documented ones below;
the common aliases in brackets are accepted too, unknown keys are ignored, and
``""`` or ``<no value>`` (an unset template variable) counts as absent.

Deploy (:class:`DeployRequest`), keyed by ``service`` on ``deploys``::

    {"service": "payments-api",            # required
     "environment": "production",          # [env]          default production
     "commit": "4f3c2a…",                  # [commit_sha, sha, revision]
     "state": "succeeded",                 # [status, phase] required, see DEPLOY_STATES
     "started_at": "2026-08-01T10:00:05Z", "finished_at": "2026-08-01T10:04:40Z",
     "url": "https://buildkite.com/acme/payments-deploy/builds/812",
     "deploy_id": "0190…",                 # [id, deployment_id] links start and end
     "source": "buildkite"}                # default api

Incident (:class:`IncidentRequest`), keyed by ``service`` on ``incidents``::

    {"incident_id": "INC-42",              # [id]           required
     "service": "payments-api",            # required
     "title": "Checkout errors above 5%",  # [summary, message, name] required
     "status": "triggered",                # [state] see INCIDENT_STATUSES
     "severity": "SEV1",                   # [priority] stored as priority
     "urgency": "high",
     "opened_at": "…",                     # [created_at]   default: when received
     "resolved_at": "…",                   # [closed_at]
     "changed_at": "…",                    # [updated_at]
     "url": "https://…", "source": "incident.io"}

An Opsgenie Webhook integration's own payload (``{"action": …, "alert": …}``) is
accepted on ``/api/incidents`` too (see :mod:`services.ingest.opsgenie`).

The receiver's routes check the bearer token (:func:`~services.ingest.auth.check_bearer`)
before reading the body, read it as JSON (a Content-Type in :data:`API_MEDIA_TYPES`,
gzip allowed), then call :func:`parse_deploy` or :func:`parse_incident` on it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal, TypeVar

from pydantic import AliasChoices, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from schemas.base import stable_id
from schemas.operations import DeployEvent, IncidentEvent
from services.ingest.errors import InvalidPayload
from services.ingest.fields import OptionalCount, OptionalText, OptionalTime, blank_to_none
from services.ingest.opsgenie import is_opsgenie, parse_opsgenie

__all__ = [
    "API_MEDIA_TYPES",
    "DEPLOY_STATES",
    "INCIDENT_STATUSES",
    "DeployRequest",
    "IncidentRequest",
    "incident_status",
    "parse_deploy",
    "parse_incident",
]

# JSON, also as ``text/json`` and ``application/<anything>+json``.
API_MEDIA_TYPES = frozenset({"application/json", "text/json"})

DeployState = Literal["started", "succeeded", "failed", "cancelled"]
IncidentStatus = Literal["triggered", "acknowledged", "resolved"]
_T = TypeVar("_T", bound=str)


def _norm(word: str) -> str:
    """``"In Progress"``, ``"in-progress"`` -> ``"in_progress"``."""
    return word.strip().lower().replace(" ", "_").replace("-", "_")


def _synonyms(groups: dict[_T, str]) -> dict[str, _T]:
    return {_norm(w): canonical for canonical, words in groups.items() for w in words.split()}


# Buildkite, Argo CD (operationState.phase), GitHub Actions (job.status) and friends.
DEPLOY_STATES: dict[str, DeployState] = _synonyms({
    "started": "started start running in_progress pending queued progressing deploying",
    "succeeded": "succeeded success successful passed deployed finished completed done healthy",
    "failed": "failed failure fail error errored degraded",
    "cancelled": "cancelled canceled aborted terminated terminating skipped",
})  # fmt: skip

# PagerDuty, Opsgenie (open/closed) and incident.io (triage … closed) status words.
INCIDENT_STATUSES: dict[str, IncidentStatus] = _synonyms({
    "triggered": "triggered trigger open opened firing active new created reopened "
                 "unacknowledged triage investigating identified fixing monitoring live ongoing",
    "acknowledged": "acknowledged acknowledge acked ack paused",
    "resolved": "resolved resolve closed close ok recovered declined merged canceled cancelled "
                "learning documenting post-incident postmortem",
})  # fmt: skip


def _pick(table: dict[str, _T], what: str) -> BeforeValidator:
    """A validator turning any synonym in ``table`` into its canonical word."""

    def pick(value: object) -> object:
        value = blank_to_none(value)
        if value is None:
            return None
        canonical = table.get(_norm(str(value)))
        if canonical is None:
            raise ValueError(f"unknown {what} {value!r}; use one of {sorted(set(table.values()))}")
        return canonical

    return BeforeValidator(pick)


def incident_status(value: str) -> IncidentStatus | None:
    """The canonical status for a status word, or ``None`` when it is not one."""
    return INCIDENT_STATUSES.get(_norm(value))


RequiredText = Annotated[str, BeforeValidator(blank_to_none), Field(min_length=1)]
_EDGE = ConfigDict(extra="ignore", populate_by_name=True, coerce_numbers_to_str=True)


class DeployRequest(BaseModel):
    """A deploy started or ended, as a deploy tool posts it to ``POST /api/deploys``.

    Unknown fields are ignored; ``""`` and ``<no value>`` count as absent.
    """

    model_config = _EDGE

    service: RequiredText = Field(description="The key on `deploys`, as named in the catalog.")
    environment: OptionalText = Field(
        None,
        validation_alias=AliasChoices("environment", "env"),
        description="Also `env`. Default `production`.",
    )
    commit: OptionalText = Field(
        None,
        validation_alias=AliasChoices("commit", "commit_sha", "sha", "revision"),
        description="Also `commit_sha`, `sha`, `revision`.",
    )
    state: Annotated[DeployState, _pick(DEPLOY_STATES, "deploy state")] = Field(
        validation_alias=AliasChoices("state", "status", "phase"),
        description=(
            "Also `status`, `phase`. Synonyms are accepted in any case: `running`, "
            "`in_progress`, `success`, `deployed`, `failure`, `error`, `canceled`, …"
        ),
    )
    started_at: OptionalTime = Field(
        None, description="ISO 8601, `2026-08-01 10:00:05 UTC`, or Unix seconds/milliseconds."
    )
    finished_at: OptionalTime = Field(None, description="As `started_at`.")
    url: OptionalText = Field(None, description="Where a person sees the deploy.")
    deploy_id: OptionalText = Field(
        None,
        validation_alias=AliasChoices("deploy_id", "id", "deployment_id"),
        description=(
            "Also `id`, `deployment_id`. Links a deploy's start and end; default: a hash of "
            "service, environment, commit and `started_at`."
        ),
    )
    source: OptionalText = Field(None, description="Default `api`.")

    def to_event(self, received_at: datetime) -> DeployEvent:
        environment = self.environment or "production"
        deploy_id = self.deploy_id or stable_id(
            "deploy", self.service, environment, self.commit, self.started_at
        )
        content = self.model_dump(mode="json")
        return DeployEvent(
            event_id=stable_id("deploys", content),
            deploy_id=deploy_id,
            service=self.service,
            environment=environment,
            commit=self.commit,
            state=self.state,
            started_at=self.started_at,
            finished_at=self.finished_at,
            url=self.url,
            source=self.source or "api",
            received_at=received_at,
        )


class IncidentRequest(BaseModel):
    """An incident opened, changed or closed, as another incident tool posts it to
    ``POST /api/incidents`` (an Opsgenie webhook payload is read as it is, too).

    Unknown fields are ignored; ``""`` and ``<no value>`` count as absent.
    """

    model_config = _EDGE

    incident_id: RequiredText = Field(
        validation_alias=AliasChoices("incident_id", "id"), description="Also `id`."
    )
    service: RequiredText = Field(description="The key on `incidents`.")
    service_name: OptionalText = None
    title: RequiredText = Field(
        validation_alias=AliasChoices("title", "summary", "message", "name"),
        description="Also `summary`, `message`, `name`.",
    )
    status: Annotated[IncidentStatus | None, _pick(INCIDENT_STATUSES, "incident status")] = Field(
        None,
        validation_alias=AliasChoices("status", "state"),
        description=(
            "Also `state`. Synonyms are accepted in any case: `open`, `firing`, `triage`, "
            "`investigating` (triggered); `acked` (acknowledged); `closed`, `ok` (resolved), "
            "… Default: `resolved` when `resolved_at` is given, else `triggered`."
        ),
    )
    severity: OptionalText = Field(
        None,
        validation_alias=AliasChoices("severity", "priority"),
        description="Also `priority`. Free text (`SEV1`, `P1`); stored as `priority`.",
    )
    urgency: OptionalText = None
    number: OptionalCount = None
    opened_at: OptionalTime = Field(
        None,
        validation_alias=AliasChoices("opened_at", "created_at"),
        description="Also `created_at`. Default: when kitestream received it.",
    )
    changed_at: OptionalTime = Field(
        None,
        validation_alias=AliasChoices("changed_at", "updated_at"),
        description="Also `updated_at`.",
    )
    resolved_at: OptionalTime = Field(
        None,
        validation_alias=AliasChoices("resolved_at", "closed_at"),
        description="Also `closed_at`.",
    )
    url: OptionalText = Field(
        None,
        validation_alias=AliasChoices("url", "html_url", "permalink"),
        description="Also `html_url`, `permalink`.",
    )
    source: OptionalText = Field(None, description="Default `api`.")
    event: OptionalText = Field(None, description="Default `incident.<status>`.")

    def to_event(self, received_at: datetime) -> IncidentEvent:
        status: IncidentStatus = self.status or ("resolved" if self.resolved_at else "triggered")
        return IncidentEvent(
            event_id=stable_id("incidents", self.model_dump(mode="json")),
            event=self.event or f"incident.{status}",
            incident_id=self.incident_id,
            number=self.number,
            service=self.service,
            service_name=self.service_name,
            title=self.title,
            status=status,
            urgency=self.urgency,
            priority=self.severity,
            url=self.url,
            opened_at=self.opened_at or received_at,
            changed_at=self.changed_at,
            resolved_at=self.resolved_at,
            source=self.source or "api",
            received_at=received_at,
        )


def parse_deploy(document: object, received_at: datetime) -> DeployEvent:
    """The ``deploys`` message for a parsed JSON body (already authenticated)."""
    try:
        return DeployRequest.model_validate(document).to_event(received_at)
    except ValidationError as exc:
        raise InvalidPayload.from_validation("deploy", exc) from None


def parse_incident(document: object, received_at: datetime) -> IncidentEvent | None:
    """The ``incidents`` message for a parsed JSON body; ``None``: accepted, nothing to send."""
    if is_opsgenie(document):
        return parse_opsgenie(document, received_at)
    try:
        return IncidentRequest.model_validate(document).to_event(received_at)
    except ValidationError as exc:
        raise InvalidPayload.from_validation("incident", exc) from None
