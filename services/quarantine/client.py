"""The quarantine endpoints of the query API, over HTTP: what the CLI and runners call.

``GET /api/v1/quarantine`` (every page) for the tests muted or skipped now, and
``POST /api/v1/quarantine`` for a change. Errors are :class:`Unreachable` (no answer:
connection refused, timeout) or :class:`Refused` (an answer other than success, with
the API's ``detail``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

__all__ = ["ClientError", "QuarantineClient", "Quarantined", "Refused", "Unreachable"]

MAX_PAGES = 1000


class ClientError(Exception):
    """The query API did not do what was asked."""


class Unreachable(ClientError):
    """No answer from the API (refused, reset, timed out)."""


class Refused(ClientError):
    """The API answered with an error; the message has its status and detail."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"{status}: {detail}")
        self.status = status
        self.detail = detail


@dataclass(frozen=True)
class Quarantined:
    """A test muted or skipped now, as runners match it (suite, scope, name)."""

    key: str
    suite: str
    scope: str
    name: str
    file: str | None
    state: str
    reason: str
    set_by: str
    until: str | None

    @classmethod
    def of(cls, item: dict[str, Any]) -> Quarantined:
        return cls(
            key=str(item["test_key"]),
            suite=str(item["suite"]),
            scope=str(item.get("scope") or ""),
            name=str(item["name"]),
            file=item.get("file"),
            state=str(item["state"]),
            reason=str(item.get("reason") or ""),
            set_by=str(item.get("set_by") or ""),
            until=item.get("until"),
        )


class QuarantineClient:
    """One API (``base_url``, e.g. ``http://127.0.0.1:8090``) and one bearer token."""

    def __init__(self, base_url: str, token: str | None, *, timeout_s: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        headers = {"authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(headers=headers, timeout=timeout_s)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> QuarantineClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _call(self, method: str, path: str, **options: Any) -> Any:
        url = f"{self.base_url}{path}"
        try:
            response = self._http.request(method, url, **options)
        except httpx.HTTPError as exc:
            raise Unreachable(f"{url}: {exc!r}") from None
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code >= 300:
            detail = body.get("detail") if isinstance(body, dict) else None
            raise Refused(response.status_code, str(detail or response.text[:200]))
        if body is None:
            raise Refused(response.status_code, "the answer is not JSON")
        return body

    def listing(self, *, suite: str | None = None, state: str | None = None) -> list[Quarantined]:
        """Every test muted or skipped now (of ``suite``; only ``state``), every page."""
        params: dict[str, str] = {"limit": "500"}
        if suite:
            params["suite"] = suite
        if state:
            params["state"] = state
        found: list[Quarantined] = []
        for _ in range(MAX_PAGES):
            body = self._call("GET", "/api/v1/quarantine", params=params)
            found.extend(Quarantined.of(item) for item in body["items"])
            if not body.get("next"):
                break
            params["cursor"] = body["next"]
        return found

    def change(self, body: dict[str, Any]) -> dict[str, Any]:
        """``POST /api/v1/quarantine``; the API's answer (``changed``, ``change``)."""
        answer: dict[str, Any] = self._call("POST", "/api/v1/quarantine", json=body)
        return answer
