"""The routes file (``KITESTREAM_ROUTES``): named sinks, and rules that send alerts to them.

::

    sinks:
      oncall-slack: {type: slack, url_env: SLACK_WEBHOOK_URL}
      audit:        {type: webhook, url: "https://hooks.example.com/k", secret_env: AUDIT_SECRET}
      log:          {type: log}
    routes:
      - match: {kind: failure_deploy_incident, severity: critical}
        to: [oncall-slack]
      - to: [log]                     # no match: every alert

Every route whose ``match`` fits sends the alert to its sinks; an alert goes to the union
of those sinks, each once, in the order they first appear. Within ``match``, each key
(``kind``, ``severity``, ``service``, ``team``) takes one value or a list, and all keys
given must fit. ``team`` comes from the service catalog through the ``team_of`` callable
that :class:`Router` is given; an alert whose service has no team never fits a ``team``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from schemas.alerts import Alert, AlertKind, Severity
from services.dispatcher.errors import ConfigError

__all__ = [
    "BuildkiteBuildSinkConfig",
    "LogSinkConfig",
    "Match",
    "PagerDutySinkConfig",
    "Route",
    "Router",
    "RoutesFile",
    "SinkConfig",
    "SlackSinkConfig",
    "WebhookSinkConfig",
    "load_routes",
    "no_team",
    "parse_routes",
]

PAGERDUTY_EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"
BUILDKITE_API_URL = "https://api.buildkite.com"


def _as_tuple(value: object) -> object:
    """``"a"`` -> ``("a",)``; lists become tuples; ``None`` stays ``None``."""
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list):
        return tuple(value)
    return value


class _Config(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class _SinkBase(_Config):
    allow_private: bool = False


class SlackSinkConfig(_SinkBase):
    """A Slack incoming webhook; its URL is a secret, so it only comes from env or file."""

    type: Literal["slack"]
    url_env: str | None = None
    url_file: str | None = None


class WebhookSinkConfig(_SinkBase):
    """Any HTTPS endpoint; each request is signed with ``secret`` (HMAC-SHA256)."""

    type: Literal["webhook"]
    url: str | None = None
    url_env: str | None = None
    url_file: str | None = None
    secret_env: str | None = None
    secret_file: str | None = None

    @model_validator(mode="after")
    def _one_url(self) -> WebhookSinkConfig:
        given = [k for k in ("url", "url_env", "url_file") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("set exactly one of url, url_env, url_file")
        return self


class PagerDutySinkConfig(_SinkBase):
    """PagerDuty Events API v2; ``events_url`` is overridable for tests and EU accounts."""

    type: Literal["pagerduty"]
    routing_key_env: str | None = None
    routing_key_file: str | None = None
    events_url: str = PAGERDUTY_EVENTS_URL


class BuildkiteBuildSinkConfig(_SinkBase):
    """Creates a build on ``organization/pipeline`` (a rollback or diagnostic pipeline)."""

    type: Literal["buildkite_build"]
    organization: str = Field(min_length=1)
    pipeline: str = Field(min_length=1)
    token_env: str | None = None
    token_file: str | None = None
    branch: str = "main"
    commit: str = "HEAD"
    api_url: str = BUILDKITE_API_URL


class LogSinkConfig(_SinkBase):
    """Writes each alert to the dispatcher's log."""

    type: Literal["log"]


SinkConfig = Annotated[
    SlackSinkConfig
    | WebhookSinkConfig
    | PagerDutySinkConfig
    | BuildkiteBuildSinkConfig
    | LogSinkConfig,
    Field(discriminator="type"),
]

SinkName = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=100)]
Kinds = Annotated[tuple[AlertKind, ...] | None, BeforeValidator(_as_tuple)]
Severities = Annotated[tuple[Severity, ...] | None, BeforeValidator(_as_tuple)]
Names = Annotated[tuple[str, ...] | None, BeforeValidator(_as_tuple)]


class Match(_Config):
    """Which alerts a route takes; a key left out takes any value."""

    kind: Kinds = None
    severity: Severities = None
    service: Names = None
    team: Names = None

    def fits(self, alert: Alert, team: str | None) -> bool:
        return (
            (self.kind is None or alert.kind in self.kind)
            and (self.severity is None or alert.severity in self.severity)
            and (self.service is None or alert.service in self.service)
            and (self.team is None or (team is not None and team in self.team))
        )


class Route(_Config):
    match: Match = Match()
    to: Annotated[tuple[SinkName, ...], BeforeValidator(_as_tuple), Field(min_length=1)]


class RoutesFile(_Config):
    """The whole file, validated: every route sends to sinks that exist."""

    sinks: dict[SinkName, SinkConfig]
    routes: list[Route] = []

    @model_validator(mode="after")
    def _known_sinks(self) -> RoutesFile:
        for i, route in enumerate(self.routes):
            unknown = [name for name in route.to if name not in self.sinks]
            if unknown:
                raise ValueError(
                    f"routes[{i}] sends to {', '.join(unknown)}, not among the sinks "
                    f"({', '.join(self.sinks) or 'none'})"
                )
        return self

    @property
    def uses_team(self) -> bool:
        return any(route.match.team is not None for route in self.routes)


def no_team(service: str) -> str | None:
    """The ``team_of`` used when there is no catalog: no service has a team."""
    return None


class Router:
    """Which sinks an alert goes to. Pure: the catalog comes in as ``team_of``."""

    def __init__(
        self, routes: Sequence[Route], team_of: Callable[[str], str | None] = no_team
    ) -> None:
        self._routes = tuple(routes)
        self._team_of = team_of

    def sinks_for(self, alert: Alert) -> tuple[str, ...]:
        team = self._team_of(alert.service) if alert.service else None
        chosen: dict[str, None] = {}
        for route in self._routes:
            if route.match.fits(alert, team):
                chosen.update(dict.fromkeys(route.to))
        return tuple(chosen)


def parse_routes(data: Any, source: str = "routes") -> RoutesFile:
    """Validate already-parsed YAML; errors become one readable :class:`ConfigError`."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping with 'sinks' and 'routes'")
    try:
        return RoutesFile.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(top)'}: {err['msg']}"
            for err in exc.errors(include_url=False)
        )
        raise ConfigError(f"{source}: {problems}") from None


def load_routes(path: Path) -> RoutesFile:
    """Read and validate the routes file at ``path``."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read routes file {path}: {exc.strerror}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    return parse_routes(data, str(path))
