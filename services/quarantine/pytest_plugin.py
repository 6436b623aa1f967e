"""Quarantine in pytest: ``pytest -p services.quarantine.pytest_plugin``.

Configured like the collectors, by environment variables; without them the plugin
does nothing at all:

=========================  ==========================================================
``KITESTREAM_URL``         the query API (``kitestream api``), e.g. ``http://ks:8090``
``KITESTREAM_SUITE_TOKEN`` the suite's token (its ``KITESTREAM_TEST_SUITES`` token, or
                           a read token)
``KITESTREAM_SUITE``       the suite's slug (optional with a suite token, which names it)
=========================  ==========================================================

At the start of the run it asks kitestream which tests of the suite are muted or
skipped (``GET /api/v1/quarantine``), and matches them to the collected tests on scope
and name, as Buildkite's collector names them (node id ``a/test_x.py::TestC::test_y``:
scope ``a/test_x.py::TestC``, name ``test_y``) or as JUnit XML does (scope
``a.test_x.TestC``).

- A **skipped** test is skipped, with who skipped it and why as the reason.
- A **muted** test runs. If it fails, pytest shows it as ``XFAIL`` and the failure
  does not fail the run; but every reporter that records results (``--junit-xml``,
  Buildkite's collector) has seen the real failure first, so the upload still
  records it and flakiness keeps counting it.
- When kitestream cannot be reached (or refuses), the run goes on unchanged, and says
  so once.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import pytest

from services.quarantine.client import ClientError, QuarantineClient, Quarantined

__all__ = ["QuarantinePlugin", "pytest_configure", "scopes_of"]

PLUGIN_NAME = "kitestream-quarantine"
TIMEOUT_S = 5.0


def scopes_of(nodeid: str) -> tuple[set[str], str]:
    """The scopes a test may be known by, and its name, from its pytest node id."""
    chunks = nodeid.split("::")
    scope, name = "::".join(chunks[:-1]), chunks[-1]
    path, sep, rest = scope.partition("::")
    dotted = path.removesuffix(".py").replace("/", ".") + (sep and "." + rest.replace("::", "."))
    return {scope, dotted}, name


@dataclass
class QuarantinePlugin:
    """The muted and skipped tests of one run, applied to its items and reports."""

    muted: dict[tuple[str, str], Quarantined] = field(default_factory=dict)
    skipped: dict[tuple[str, str], Quarantined] = field(default_factory=dict)
    notice: str = ""
    unreachable: str = ""
    _muted_items: dict[str, Quarantined] = field(default_factory=dict)
    _session: pytest.Session | None = None
    muted_failures: int = 0

    @classmethod
    def of(cls, found: list[Quarantined]) -> QuarantinePlugin:
        plugin = cls()
        for q in found:
            into = plugin.muted if q.state == "muted" else plugin.skipped
            into[(q.scope, q.name)] = q
        return plugin

    def _match(self, nodeid: str, table: dict[tuple[str, str], Quarantined]) -> Quarantined | None:
        scopes, name = scopes_of(nodeid)
        for scope in sorted(scopes):
            if (scope, name) in table:
                return table[(scope, name)]
        return None

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        for item in items:
            skip = self._match(item.nodeid, self.skipped)
            if skip is not None:
                item.add_marker(pytest.mark.skip(reason=_why("skipped", skip)))
                continue
            mute = self._match(item.nodeid, self.muted)
            if mute is not None:
                self._muted_items[item.nodeid] = mute

    def pytest_report_teststatus(
        self, report: pytest.TestReport
    ) -> tuple[str, str, tuple[str, dict[str, bool]]] | None:
        if report.failed and report.nodeid in self._muted_items and report.when != "teardown":
            return "xfailed", "x", ("XFAIL (muted)", {"yellow": True})
        return None

    @pytest.hookimpl(trylast=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """After every recorder saw the failure: an xfail for pytest's own counts."""
        mute = self._muted_items.get(report.nodeid)
        if mute is None or not report.failed or report.when == "teardown":
            return
        report.wasxfail = _why("muted", mute)
        self.muted_failures += 1
        session = self._session
        if session is not None and session.testsfailed > 0:
            session.testsfailed -= 1  # the session counted it before (tryfirst)
            if session.shouldfail and session.testsfailed < (
                session.config.getoption("maxfail") or 1
            ):
                session.shouldfail = False

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        self._session = session

    def pytest_report_header(self) -> str:
        return self.notice

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if self.unreachable:
            terminalreporter.write_line(self.unreachable, yellow=True)
        if self.muted_failures:
            terminalreporter.write_line(
                f"kitestream: {self.muted_failures} muted test(s) failed; "
                "reported as failures, not failing the run",
                yellow=True,
            )


def _why(state: str, q: Quarantined) -> str:
    until = f" until {q.until}" if q.until else ""
    return f"kitestream: {state} by {q.set_by}{until}: {q.reason}"


def pytest_configure(config: pytest.Config) -> None:
    url = os.environ.get("KITESTREAM_URL", "").strip()
    token = os.environ.get("KITESTREAM_SUITE_TOKEN", "").strip()
    if not url or not token:
        return  # not configured: nothing at all
    suite = os.environ.get("KITESTREAM_SUITE", "").strip() or None
    try:
        with QuarantineClient(url, token, timeout_s=TIMEOUT_S) as client:
            found = client.listing(suite=suite)
    except (ClientError, KeyError, TypeError) as exc:  # said once, at the end
        why = f"kitestream: quarantine not applied, the run went on unchanged: {exc}"
        config.pluginmanager.register(QuarantinePlugin(unreachable=why), PLUGIN_NAME)
        return
    plugin = QuarantinePlugin.of(found)
    plugin.notice = (
        f"kitestream: {len(plugin.muted)} muted, {len(plugin.skipped)} skipped test(s) from {url}"
    )
    config.pluginmanager.register(plugin, PLUGIN_NAME)
