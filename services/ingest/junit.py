"""JUnit XML read safely into test executions, reruns included.

Safety: defusedxml refuses entity declarations and external references, so a
billion-laughs or quadratic-blowup document, or one that reads ``file:///etc/passwd``,
fails at once with a 400 instead of expanding; expat itself is linear in the input,
whose size the receiver caps. The tree is walked with an explicit stack, so deep
nesting cannot exhaust the interpreter's recursion limit.

Shape: ``<testsuites>`` and ``<testsuite>`` nest freely; each ``<testcase>`` gives
name, classname (the scope; the enclosing suite's name when absent), file, line and
time, and its outcome from ``<failure>``, ``<error>`` or ``<skipped>``.

Reruns (Maven Surefire, Gradle ``mergeReruns``, pytest-rerunfailures)::

    <testcase name="t">                       flaky: failed, then passed
      <flakyFailure message="boom"/>     ->   attempt 1 failed
    </testcase>                          ->   attempt 2 passed

    <testcase name="t">                       failed every time
      <failure message="boom"/>          ->   attempt 1 failed
      <rerunFailure message="boom"/>     ->   attempt 2 failed
    </testcase>

``flaky*`` elements are the failed attempts *before* the testcase's own outcome,
``rerun*`` elements the failed attempts *after* it; each is one more execution.
"""

from __future__ import annotations

from dataclasses import dataclass
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from schemas.tests import TestResultKind
from services.ingest.errors import MalformedBody
from services.ingest.results import Execution

__all__ = ["parse_junit"]

_FAILED = frozenset({"failure", "error"})
_BEFORE = frozenset({"flakyFailure", "flakyError"})
_AFTER = frozenset({"rerunFailure", "rerunError"})
_SKIPPED_STATUS = frozenset({"skipped", "notrun", "disabled", "ignored"})


@dataclass(frozen=True)
class _Suite:
    name: str = ""
    file: str | None = None


def _tag(element: Element) -> str:
    """The local name: ``{ns}testcase`` -> ``testcase``."""
    return element.tag.rpartition("}")[2] if isinstance(element.tag, str) else ""


def _seconds(raw: str | None) -> float | None:
    if not raw:
        return None
    try:
        value = float(raw.replace(",", ""))
    except ValueError:
        return None
    return value if value >= 0 else None


def _lines(text: str | None) -> list[str]:
    lines = [line.rstrip() for line in (text or "").strip("\n").splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def _failure(element: Element) -> tuple[str | None, list[tuple[list[str], list[str]]]]:
    """(reason, expanded blocks) of a failure-like element."""
    trace = next((c for c in element if _tag(c) == "stackTrace"), None)
    if trace is not None:
        body = trace.text
    elif _tag(element) in _FAILED:
        body = "".join(element.itertext())
    else:
        body = element.text
    lines = _lines(body)
    message = (element.get("message") or "").strip()
    reason = message.splitlines()[0] if message else None
    if reason is None:
        reason = next((line.strip() for line in lines if line.strip()), None) or element.get("type")
    return reason, [(lines, [])] if lines else []


def _testcase(case: Element, suite: _Suite) -> list[Execution]:
    name = (case.get("name") or "").strip()
    scope = (case.get("classname") or "").strip() or suite.name
    file_name = (case.get("file") or "").strip() or suite.file
    line = (case.get("line") or "").strip()
    location = f"{file_name}:{line}" if file_name and line else file_name

    def execution(result: TestResultKind, element: Element | None, time: str | None) -> Execution:
        reason, blocks = _failure(element) if element is not None else (None, [])
        return Execution(
            name=name,
            scope=scope,
            location=location,
            file_name=file_name,
            result=result,
            duration_s=_seconds(time),
            failure_reason=reason,
            failure_expanded=blocks,
        )

    children = list(case)
    failed = next((c for c in children if _tag(c) in _FAILED), None)
    skipped = next((c for c in children if _tag(c) == "skipped"), None)
    status = (case.get("status") or case.get("result") or "").lower()
    before = [execution("failed", c, c.get("time")) for c in children if _tag(c) in _BEFORE]
    after = [execution("failed", c, c.get("time")) for c in children if _tag(c) in _AFTER]
    if failed is not None:
        own = execution("failed", failed, case.get("time"))
    elif skipped is not None or status in _SKIPPED_STATUS:
        own = execution("skipped", None, case.get("time"))
    else:
        own = execution("passed", None, case.get("time"))
    return [*before, own, *after]


def parse_junit(xml: bytes) -> tuple[list[Execution], list[str]]:
    """Executions in document order, and one error per testcase that has no name.

    Raises :class:`MalformedBody` for XML that is not well-formed or not safe.
    """
    try:
        root = fromstring(xml, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise MalformedBody(f"unsafe XML refused: {type(exc).__name__}") from None
    except ParseError as exc:
        raise MalformedBody(f"the JUnit XML is malformed: {exc}") from None
    if _tag(root) not in {"testsuites", "testsuite", "testcase"}:
        raise MalformedBody(f"not JUnit XML: the root element is <{_tag(root)}>")
    executions: list[Execution] = []
    errors: list[str] = []
    stack: list[tuple[Element, _Suite]] = [(root, _Suite())]
    while stack:
        element, suite = stack.pop()
        tag = _tag(element)
        if tag == "testcase":
            if (element.get("name") or "").strip():
                executions += _testcase(element, suite)
            else:
                errors.append(f"a testcase in suite {suite.name!r} has no name")
            continue
        if tag == "testsuite":
            suite = _Suite(
                name=(element.get("name") or "").strip() or suite.name,
                file=(element.get("file") or "").strip() or suite.file,
            )
        if tag in {"testsuite", "testsuites"}:
            stack.extend((child, suite) for child in reversed(element))
    return executions, errors
