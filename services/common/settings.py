"""Settings every service shares, read once at start from the environment.

One convention names every variable: a settings class states its ``env_prefix``
(``KITESTREAM_FLAKINESS_``, ``KITESTREAM_CORRELATOR_``, ``KITESTREAM_DISPATCHER_``;
the receiver's is plain ``KITESTREAM_``) and its own fields are read as prefix + field
name, upper case. A variable several services share (``KAFKA_BOOTSTRAP_SERVERS``,
``KITESTREAM_TOPIC_PREFIX``, ``KITESTREAM_CATALOG``, ``KITESTREAM_INSTANCE_ID``…) is
the one exception: its field names it with :func:`shared`, which no prefix changes.
So every field of :class:`KafkaSettings` uses :func:`shared`, and so must any field
added to it.

:func:`load_settings` is how every command reads its settings: a missing or invalid
variable becomes a :class:`SettingsError` whose lines each name the variable and say
what is wrong, without the value (it may be a secret) and without pydantic's dump;
``kitestream`` logs them and exits 2. Secrets are ``SecretStr`` so that a settings
object can be logged or printed without leaking them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, TypeVar

from pydantic import AliasChoices, BeforeValidator, Field, ValidationError
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

__all__ = [
    "CsvList",
    "KafkaSettings",
    "SettingsError",
    "load_settings",
    "problems",
    "shared",
    "split_csv",
    "variable",
]

S = TypeVar("S", bound=BaseSettings)


def split_csv(value: object) -> list[str]:
    """Split ``"a, b,,c"`` into ``["a", "b", "c"]``; lists pass through."""
    if value is None:
        return []
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, list | tuple):
        return [str(part).strip() for part in value if str(part).strip()]
    raise TypeError(f"expected a comma-separated string, got {type(value).__name__}")


# A list read from one comma-separated environment variable ("a,b,c"), not from JSON.
CsvList = Annotated[list[str], NoDecode, BeforeValidator(split_csv)]


def shared(*variables: str) -> AliasChoices:
    """The variable(s) of a setting several services share, tried in order, whatever
    the class's ``env_prefix``: ``Field(validation_alias=shared("KITESTREAM_CATALOG"))``.
    """
    return AliasChoices(*variables)


class SettingsError(Exception):
    """Settings cannot be read; :attr:`problems` holds one sentence per variable."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def variable(cls: type[BaseSettings], field: str) -> str:
    """The environment variable that sets ``field`` of ``cls`` (the first, if several)."""
    info = cls.model_fields[field]
    alias = info.validation_alias
    if isinstance(alias, AliasChoices):
        first = alias.choices[0]
        return first if isinstance(first, str) else field.upper()
    if isinstance(alias, str):
        return alias
    return f"{cls.model_config.get('env_prefix', '')}{field}".upper()


def _field_of(cls: type[BaseSettings], loc: str) -> str | None:
    """The field an error location names: a field name, or one of its variables."""
    if loc in cls.model_fields:
        return loc
    for name, info in cls.model_fields.items():
        alias = info.validation_alias
        choices = alias.choices if isinstance(alias, AliasChoices) else [alias]
        if loc in choices:
            return name
    return None


def problems(
    cls: type[BaseSettings], exc: ValidationError, hints: Mapping[str, str] | None = None
) -> list[str]:
    """One sentence per error of ``exc``, naming the variable; never the value given.

    ``hints`` (field -> sentence) says what to do about a missing or empty field, in
    place of "is not set", e.g. where to find the token to set.
    """
    hints = hints or {}
    said: list[str] = []
    for error in exc.errors(include_input=False, include_url=False, include_context=False):
        loc = str(error["loc"][0]) if error["loc"] else ""
        field = _field_of(cls, loc)
        name = variable(cls, field) if field is not None else loc
        msg = str(error["msg"]).removeprefix("Value error, ")
        if field is not None and field in hints and error["type"] in {"missing", "value_error"}:
            said.append(hints[field])
        elif error["type"] == "missing":
            said.append(f"{name} is not set")
        elif name:
            said.append(f"{name}: {msg}")
        else:
            said.append(msg)  # a check across fields names its variables itself
    return said


def load_settings(cls: type[S], hints: Mapping[str, str] | None = None, **values: Any) -> S:
    """``cls`` read from the environment (``values`` win), or :class:`SettingsError`."""
    try:
        return cls(**values)
    except ValidationError as exc:
        raise SettingsError(problems(cls, exc, hints)) from None


class KafkaSettings(BaseSettings):
    """Where Kafka is and how topics are named (``KAFKA_BOOTSTRAP_SERVERS`` always wins).

    Every field here is shared by all services, so each names its variable with
    :func:`shared`: a subclass's ``env_prefix`` must not rename it.
    """

    model_config = SettingsConfigDict(
        env_prefix="KITESTREAM_", extra="ignore", frozen=True, populate_by_name=True
    )

    bootstrap_servers: str = Field(
        default="localhost:9092",
        validation_alias=shared("KAFKA_BOOTSTRAP_SERVERS"),
        description="Comma-separated Kafka brokers.",
    )
    topic_prefix: str = Field(
        default="",
        validation_alias=shared("KITESTREAM_TOPIC_PREFIX"),
        description="Prefix for every topic name.",
    )
    log_format: str = Field(
        default="auto",
        validation_alias=shared("KITESTREAM_LOG_FORMAT"),
        description="auto (text on a terminal, JSON otherwise), json or text.",
    )
    log_level: str = Field(default="INFO", validation_alias=shared("KITESTREAM_LOG_LEVEL"))
    metrics_port: int | None = Field(
        default=None,
        ge=0,
        validation_alias=shared("KITESTREAM_METRICS_PORT"),
        description="Port of the service's Prometheus /metrics (0 disables; each has a default).",
    )
    metrics_host: str = Field(
        default="127.0.0.1",
        validation_alias=shared("KITESTREAM_METRICS_HOST"),
        description="Address /metrics listens on; 0.0.0.0 in a container (compose sets it).",
    )
