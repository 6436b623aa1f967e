"""A local Buildkite REST API on 127.0.0.1 that serves a generated history.

It speaks the documented part reconcile uses: ``GET /v2/organizations/{org}/builds`` and
``…/pipelines/{slug}/builds`` with ``created_from``, ``created_to``, ``finished_from``
(``YYYY-MM-DDTHH:MM:SSZ`` only: anything else is a 400, as Buildkite answers Python's
``isoformat()``), ``per_page`` up to 100, ``page``, ``include_retried_jobs``; newest
first; ``Link: <…>; rel="next"``; a 400 past ``max_page``; the bearer token; and a rate
limit in fixed windows of ``window_s`` with ``RateLimit-*`` and ``RateLimit-User-*``
headers and a 429 past either limit. It records every request it answered (time,
window, status) so that tests can count requests per window on the server side.

``faults`` makes the next answers go wrong, in order: ``"500"``, ``"garbage"`` (a 200
whose body is not JSON), ``"slow"`` (no answer within the client's timeout),
``"429"``.
"""

from __future__ import annotations

import contextlib
import math
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import orjson

__all__ = ["BuildkiteApi", "Served", "running_api"]

TOKEN = "bkua_test_token_0123456789"
_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
_PATH = re.compile(r"^/v2/organizations/(?P<org>[^/]+)(?:/pipelines/(?P<slug>[^/]+))?/builds$")


@dataclass(frozen=True)
class Served:
    at: float
    window: int
    status: int
    path: str


@dataclass
class BuildkiteApi:
    builds: list[dict[str, Any]]
    org: str = "acme"
    limit: int = 200
    user_limit: int = 50
    window_s: float = 2.0
    max_page: int = 10
    slow_s: float = 3.0
    delay_s: float = 0.0  # every answer takes this long (to interrupt a run mid-way)
    faults: list[str] = field(default_factory=list)
    served: list[Served] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    started: float = field(default_factory=time.monotonic)
    host: str = ""  # set by running_api

    def window(self, now: float) -> tuple[int, float]:
        """The window number and the seconds left in it."""
        elapsed = now - self.started
        n = int(elapsed // self.window_s)
        return n, (n + 1) * self.window_s - elapsed

    def per_window(self, *, status: int | None = 200) -> dict[int, int]:
        counts: dict[int, int] = {}
        for s in self.served:
            if status is None or s.status == status:
                counts[s.window] = counts.get(s.window, 0) + 1
        return counts

    def answer(self, path: str, query: str, auth: str | None) -> tuple[int, dict[str, str], bytes]:
        now = time.monotonic()
        with self.lock:
            window, left = self.window(now)
            used = sum(1 for s in self.served if s.window == window) + 1
            fault = self.faults.pop(0) if self.faults else None
            status, body, extra = self._route(path, query, auth, fault, used)
            self.served.append(Served(now, window, status, path))
        reset = str(max(1, math.ceil(left)))
        if status == 429:
            used = max(used, self.limit, self.user_limit)
        headers = {
            "Content-Type": "application/json",
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(max(0, self.limit - used)),
            "RateLimit-Reset": reset,
            "RateLimit-User-Limit": str(self.user_limit),
            "RateLimit-User-Remaining": str(max(0, self.user_limit - used)),
            "RateLimit-User-Reset": reset,
            **extra,
        }
        if fault == "slow":
            time.sleep(self.slow_s)
        elif self.delay_s:
            time.sleep(self.delay_s)
        return status, headers, body

    def _route(  # noqa: PLR0911 - one return per documented answer
        self, path: str, query: str, auth: str | None, fault: str | None, used: int
    ) -> tuple[int, bytes, dict[str, str]]:
        if fault == "429" or used > min(self.limit, self.user_limit):
            return 429, b'{"message":"You have hit the rate limit"}', {}
        if auth != f"Bearer {TOKEN}":
            return 401, b'{"message":"Authentication required"}', {}
        match = _PATH.match(path)
        if not match or match["org"] != self.org:
            return 404, b'{"message":"No organization found"}', {}
        params = {k: v[-1] for k, v in parse_qs(query).items()}
        for name in ("created_from", "created_to", "finished_from"):
            if name in params and not _TIME.match(params[name]):
                return 400, b'{"message":"Invalid date format"}', {}
        per_page = int(params.get("per_page", "30"))
        page = int(params.get("page", "1"))
        if per_page > 100:
            return 400, b'{"message":"per_page must be at most 100"}', {}
        if page > self.max_page:
            return 400, b'{"message":"Page number too high, use a narrower time range"}', {}
        if fault == "500":
            return 502, b"<html>bad gateway</html>", {}
        if fault == "garbage":
            return 200, b'[{"id": "truncated', {}
        found = self._select(match["slug"], params)
        chunk = found[(page - 1) * per_page : page * per_page]
        extra = {}
        if page * per_page < len(found):
            nxt = urlencode({**params, "page": page + 1})
            extra["Link"] = f'<http://{self.host}{path}?{nxt}>; rel="next"'
        return 200, orjson.dumps(chunk), extra

    def _select(self, slug: str | None, params: dict[str, str]) -> list[dict[str, Any]]:
        def at(name: str) -> datetime | None:
            text = params.get(name)
            return (
                None
                if text is None
                else datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
            )

        created_from, created_to, finished_from = (
            at("created_from"),
            at("created_to"),
            at("finished_from"),
        )
        retried = params.get("include_retried_jobs") == "true"
        out = []
        for build in self.builds:
            created = _parse(build["created_at"])
            finished = _parse(build["finished_at"]) if build.get("finished_at") else None
            if slug is not None and build["pipeline"]["slug"] != slug:
                continue
            if (created_from and created < created_from) or (created_to and created > created_to):
                continue
            if finished_from and (finished is None or finished < finished_from):
                continue
            jobs = [j for j in build["jobs"] if retried or not j.get("retried")]
            out.append({**build, "jobs": jobs})
        out.sort(key=lambda b: b["created_at"], reverse=True)
        return out


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text)


@contextlib.contextmanager
def running_api(api: BuildkiteApi) -> Iterator[str]:
    """Serve ``api`` on a free loopback port; yields its base URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            status, headers, body = api.answer(
                parts.path, parts.query, self.headers.get("Authorization")
            )
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    api.host = f"127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{api.host}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)
