"""The console's routes, mounted into the query API's app (``kitestream api`` serves both).

Pages are rendered on the server from Jinja2 templates with autoescaping on for every
template: test names and commit messages come from webhooks and render as text. Each
page reads the store on a pooled read-only connection in a worker thread, through the
API's handlers (:mod:`services.console.views`).

Access is the API's: open when no ``KITESTREAM_READ_TOKENS`` is set (the API then only
binds loopback); otherwise a page needs ``Authorization: Bearer <token>`` or the cookie
the login form sets (HttpOnly, SameSite=Strict, Secure over HTTPS).

A test's page also has the quarantine buttons (mute, skip, unmute) for holders of a
write token (``KITESTREAM_WRITE_TOKENS``): the form posts to
``/tests/{key}/quarantine`` with the token in its body (never kept in a cookie), which
publishes the change as ``POST /api/v1/quarantine`` does and comes back to the page
saying what it did. No script is involved (the pages' CSP allows none).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode

import jinja2
import sqlalchemy as sa
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from services.api.access import ReadAccess, WriteAccess
from services.api.changes import ChangeBody, Publisher, apply_change
from services.api.errors import HttpError, InvalidBody, Unauthorized
from services.catalog.catalog import Catalog
from services.console import views
from services.console.views import Sources

__all__ = ["COOKIE", "console_routes", "templates"]

log = logging.getLogger(__name__)

COOKIE = "kitestream_console"
_HEADERS = {
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "content-security-policy": (
        "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
}

Page = Callable[[Request, Sources], tuple[str, dict[str, Any]]]


def templates() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("services.console", "templates"),
        autoescape=True,  # every template, whatever its name
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = _when
    env.filters["pct"] = lambda v: "–" if v is None else f"{100 * v:.0f}%"
    env.filters["secs"] = lambda v: "–" if v is None else f"{v:.2f} s"
    env.filters["urlpart"] = lambda v: quote(str(v), safe="")
    env.globals["query"] = lambda **kw: urlencode({k: v for k, v in kw.items() if v})
    return env


def _when(value: object) -> str:
    moment = views.moment(value)
    return "–" if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M")


def _authorized(request: Request, access: ReadAccess) -> bool:
    if access.open:
        return True
    header = request.headers.get("authorization")
    cookie = request.cookies.get(COOKIE)
    try:
        access.check(header or (f"Bearer {cookie}" if cookie else None))
    except Unauthorized:
        return False
    return True


def _safe_next(raw: str | None) -> str:
    """Where to go after logging in: a path of this site only."""
    if raw and raw.startswith("/") and not raw.startswith("//") and "\\" not in raw:
        return raw
    return "/"


def console_routes(
    engine: sa.Engine,
    catalog: Catalog,
    access: ReadAccess,
    writes: WriteAccess | None = None,
    publisher: Publisher | None = None,
) -> list[BaseRoute]:
    """The console's pages, the login form, the quarantine form and the static files."""
    env = templates()
    can_write = writes is not None and writes.enabled and publisher is not None

    def render(name: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
        body = env.get_template(name).render(auth=not access.open, can_write=can_write, **context)
        return HTMLResponse(body, status, headers=_HEADERS)

    def read(page: Page, request: Request) -> tuple[str, dict[str, Any]]:
        with engine.connect() as conn:
            return page(request, Sources(conn, catalog))

    def endpoint(page: Page) -> Callable[[Request], Awaitable[Response]]:
        async def serve(request: Request) -> Response:
            if not _authorized(request, access):
                target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                return RedirectResponse(f"/login?{urlencode({'next': target})}", 303)
            try:
                name, context = await run_in_threadpool(read, page, request)
            except HttpError as exc:
                return render(
                    "error.html", {"status": exc.status, "detail": exc.detail}, exc.status
                )
            except (sa.exc.OperationalError, sa.exc.ProgrammingError) as exc:
                log.warning("console cannot read the store: %s", type(exc.orig).__name__)
                detail = "the store's database cannot be read (not migrated yet?)"
                return render("error.html", {"status": 503, "detail": detail}, 503)
            return render(name, context)

        return serve

    async def login_form(request: Request) -> Response:
        nxt = _safe_next(request.query_params.get("next"))
        return render("login.html", {"next": nxt, "failed": False})

    async def login(request: Request) -> Response:
        form = await request.form()
        token = str(form.get("token", ""))
        nxt = _safe_next(str(form.get("next", "/")))
        try:
            access.check(f"Bearer {token}")
        except Unauthorized:
            log.info("console login refused")
            return render("login.html", {"next": nxt, "failed": True}, 401)
        response = RedirectResponse(nxt, 303)
        response.set_cookie(
            COOKIE,
            token,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
            path="/",
        )
        return response

    async def logout(_request: Request) -> Response:
        response = RedirectResponse("/login", 303)
        response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
        return response

    def page(path: str, fn: Page) -> Route:
        return Route(path, endpoint(fn), methods=["GET"])

    return [
        page("/", _overview),
        page("/flaky", _flaky),
        Route(
            "/tests/{key:path}/quarantine", _changer(engine, writes, publisher), methods=["POST"]
        ),
        page("/tests/{key:path}", _test),
        page("/alerts", _alerts),
        page("/alerts/{alert_id}", _alert),
        page("/services/{name}", _service),
        page("/pipelines/{slug}", _pipeline),
        Route("/login", login_form, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Mount("/static", StaticFiles(packages=[("services.console", "static")]), name="static"),
    ]


def _changer(
    engine: sa.Engine, writes: WriteAccess | None, publisher: Publisher | None
) -> Callable[[Request], Awaitable[Response]]:
    """The quarantine form's handler: check the write token, publish, go back."""

    async def change(request: Request) -> Response:
        key = request.path_params["key"]
        back = f"/tests/{quote(key, safe='/')}"
        form = await request.form()
        fields = {name: str(form.get(name) or "").strip() for name in
                  ("state", "reason", "by", "days", "token")}  # fmt: skip
        try:
            if writes is None or publisher is None:
                raise InvalidBody("quarantine changes are off here")
            writes.check(f"Bearer {fields['token']}" if fields["token"] else None)
            now = datetime.now(UTC)
            # the form's "for" applies to mute and skip; unmute takes none
            until = None if fields["state"] == "active" else _until(fields["days"], now)
            try:
                body = ChangeBody(key=key, state=fields["state"], reason=fields["reason"],
                                  by=fields["by"], until=until)  # fmt: skip
            except ValidationError as exc:
                error = exc.errors(include_url=False, include_input=False)[0]
                where = ".".join(str(p) for p in error["loc"])
                raise InvalidBody(f"{where}: {error['msg']}") from None
            done = await apply_change(engine, publisher, body, now)
        except HttpError as exc:
            log.info("console quarantine change refused: %s", exc.detail)
            return RedirectResponse(f"{back}?{urlencode({'note': exc.detail})}", 303)
        note = "nothing to change: the test is active" if done is None else (
            f"{done.state} by {done.set_by}" + (f" until {done.until:%Y-%m-%d %H:%M}Z"
                                                if done.until else "")
        )  # fmt: skip
        return RedirectResponse(f"{back}?{urlencode({'note': note})}", 303)

    return change


def _params(request: Request) -> dict[str, str]:
    return dict(request.query_params.items())


def _overview(request: Request, src: Sources) -> tuple[str, dict[str, Any]]:
    return "overview.html", views.overview_page(src, datetime.now(UTC))


def _flaky(request: Request, src: Sources) -> tuple[str, dict[str, Any]]:
    return "flaky.html", views.flaky_page(src, _params(request))


def _test(request: Request, src: Sources) -> tuple[str, dict[str, Any]]:
    key = request.path_params["key"]
    page = views.one_test_page(src, key, datetime.now(UTC).date())
    return "test.html", {**page, "note": request.query_params.get("note", "")[:300]}


def _until(days: str, now: datetime) -> datetime | None:
    """The form's "for N days" as an expiry (empty: none)."""
    if not days:
        return None
    try:
        count = float(days)
    except ValueError:
        raise InvalidBody(f"days: expected a number, got {days[:20]!r}") from None
    if not 0 < count <= 3650:
        raise InvalidBody("days: expected more than 0 and at most 3650")
    return now + timedelta(days=count)


def _alerts(request: Request, src: Sources) -> tuple[str, dict[str, Any]]:
    return "alerts.html", views.alerts_page(src, _params(request))


def _alert(request: Request, src: Sources) -> tuple[str, dict[str, Any]]:
    return "alert.html", views.alert_page(src, request.path_params["alert_id"])


def _service(request: Request, src: Sources) -> tuple[str, dict[str, Any]]:
    return "service.html", views.service_page(src, request.path_params["name"])


def _pipeline(request: Request, src: Sources) -> tuple[str, dict[str, Any]]:
    slug = request.path_params["slug"]
    return "pipeline.html", views.pipeline_page(src, slug, datetime.now(UTC).date())
