"""Buildkite's REST API, the part reconcile needs: list builds, jobs embedded.

``GET /v2/organizations/{org}/builds`` (or ``…/pipelines/{slug}/builds``) with
``created_from``/``created_to``/``finished_from``, ``per_page`` and
``include_retried_jobs=true``, following the ``Link: <…>; rel="next"`` header. Every
request first waits what :class:`~services.reconcile.budget.Budget` says.

What comes back, and what happens::

    200 with a JSON list      the page
    429                       wait for the reset the headers give, then ask again
    5xx, timeout, bad JSON    retry with exponential backoff, ``max_attempts`` in all
    400 past page 1           DeepPage: the caller asks for a narrower time window
    401, 403, 404, other 4xx  ApiError: retrying will not help

The token travels in the ``Authorization`` header only: it is never logged and never
part of a URL or an exception message.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx
import orjson

from services.reconcile import ApiError, DeepPage
from services.reconcile.budget import Budget
from services.reconcile.settings import ReconcileSettings
from services.reconcile.timestamps import api_time

__all__ = ["BuildkiteApi", "Page"]

log = logging.getLogger(__name__)

Page = list[dict[str, Any]]
_FINAL = {401: "the token was refused", 403: "the token lacks the read_builds scope"}


class BuildkiteApi:
    """Builds of one organization, one page at a time, within the request budget."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        settings: ReconcileSettings,
        budget: Budget | None = None,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.settings = settings
        self.budget = budget or Budget(settings.budget_share)
        self.sleep = sleep
        self.clock = clock
        self.requests = 0
        base = settings.api_url.rstrip("/")
        self.root = f"{base}/v2/organizations/{quote(settings.organization, safe='')}"
        self._auth = {"Authorization": f"Bearer {settings.api_token.get_secret_value()}"}

    def builds_url(self, pipeline: str | None) -> str:
        if pipeline is None:
            return f"{self.root}/builds"
        return f"{self.root}/pipelines/{quote(pipeline, safe='')}/builds"

    async def builds(
        self,
        pipeline: str | None,
        *,
        created_from: datetime | None = None,
        created_to: datetime | None = None,
        finished_from: datetime | None = None,
    ) -> AsyncIterator[Page]:
        """Every page of builds (newest first, as the API orders them)."""
        params: dict[str, str | int] = {
            "per_page": self.settings.page_size,
            "include_retried_jobs": "true",
        }
        for name, at in (
            ("created_from", created_from),
            ("created_to", created_to),
            ("finished_from", finished_from),
        ):
            if at is not None:
                params[name] = api_time(at)
        url: str | None = self.builds_url(pipeline)
        first = True
        while url is not None:
            page, url = await self._page(url, params if first else None, first=first)
            first = False
            yield page

    async def _page(
        self, url: str, params: dict[str, str | int] | None, *, first: bool
    ) -> tuple[Page, str | None]:
        attempt = 0
        while True:
            wait = self.budget.delay(self.clock())
            if wait > 0:
                await self.sleep(wait)
            attempt += 1
            try:
                response = await self.client.get(
                    url, params=params, headers=self._auth, timeout=self.settings.timeout_s
                )
            except httpx.TransportError as exc:  # timeouts, refused connections, resets
                problem = f"{type(exc).__name__}"
            else:
                self.requests += 1
                refused = response.status_code == 429
                self.budget.observe(response.headers, self.clock(), refused=refused)
                if refused:
                    log.warning("rate limited (429): waiting for the reset")
                    attempt -= 1  # not a failure of the request: the budget waits
                    continue
                page = self._answer(response, first=first)
                if page is not None:
                    return page, _next(response)
                problem = f"HTTP {response.status_code}"
                if response.is_success:
                    problem = "a body that is not a JSON list of builds"
            if attempt >= self.settings.max_attempts:
                raise ApiError(f"{_where(url)}: {problem}, {attempt} attempts")
            backoff = self.settings.backoff_s * 2 ** (attempt - 1)
            log.warning("%s: %s; retrying in %.1fs", _where(url), problem, backoff)
            await self.sleep(backoff)

    def _answer(self, response: httpx.Response, *, first: bool) -> Page | None:
        """The page, or ``None`` to retry; raises when retrying cannot help."""
        status = response.status_code
        if status >= 500:
            return None
        if status == 400 and not first:
            raise DeepPage(f"{_where(str(response.url))}: page too deep")
        if status in _FINAL:
            raise ApiError(f"{_where(str(response.url))}: {_FINAL[status]} (HTTP {status})")
        if status >= 400:
            detail = _message(response.content)
            raise ApiError(f"{_where(str(response.url))}: HTTP {status} {detail}".rstrip())
        try:
            body = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            return None
        if not isinstance(body, list) or not all(isinstance(b, dict) for b in body):
            return None
        return body


def _next(response: httpx.Response) -> str | None:
    link = response.links.get("next")
    return link.get("url") if link else None


def _where(url: str) -> str:
    """The URL without its query (never a secret, but long)."""
    return url.split("?", 1)[0]


def _message(content: bytes) -> str:
    try:
        body = orjson.loads(content)
    except orjson.JSONDecodeError:
        return ""
    message = body.get("message") if isinstance(body, dict) else None
    return str(message)[:200] if message else ""
