"""Secrets for sinks, from the environment (``*_env``) or from files (``*_file``).

The routes file only ever names where a secret is; this module fetches it once at start
and hands it over as a ``SecretStr``. Error messages name the variable or the file, never
what they hold.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from pydantic import SecretStr

from services.dispatcher.errors import ConfigError

__all__ = ["SecretSource"]


class SecretSource:
    """Reads secrets from ``environ`` and from files relative to ``base_dir``."""

    def __init__(self, environ: Mapping[str, str], base_dir: Path) -> None:
        self._environ = environ
        self._base_dir = base_dir

    def optional(
        self, sink: str, field: str, *, env: str | None, file: str | None
    ) -> SecretStr | None:
        """The secret ``field`` of ``sink``, or ``None`` when neither key is set."""
        if env is not None and file is not None:
            raise ConfigError(f"sink {sink!r}: set {field}_env or {field}_file, not both")
        if env is not None:
            value = self._environ.get(env, "").strip()
            if not value:
                raise ConfigError(
                    f"sink {sink!r}: {field}_env names {env}, which is not set or empty"
                )
            return SecretStr(value)
        if file is not None:
            path = Path(file).expanduser()
            path = path if path.is_absolute() else self._base_dir / path
            try:
                value = path.read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ConfigError(
                    f"sink {sink!r}: cannot read {field}_file {path}: {exc.strerror}"
                ) from exc
            if not value:
                raise ConfigError(f"sink {sink!r}: {field}_file {path} is empty")
            return SecretStr(value)
        return None

    def required(self, sink: str, field: str, *, env: str | None, file: str | None) -> SecretStr:
        """Like :meth:`optional`, but one of the two keys must be set."""
        secret = self.optional(sink, field, env=env, file=file)
        if secret is None:
            raise ConfigError(f"sink {sink!r}: needs {field}_env or {field}_file")
        return secret
