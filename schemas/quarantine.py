"""Quarantine changes on ``tests.quarantine`` (compacted, key = test key). **Contract.**

Every change of a test's quarantine state is one message: by hand (the query API's
write endpoints, ``kitestream tests mute|skip|unmute``, the console) or by policy
(``KITESTREAM_AUTO_QUARANTINE``). The latest message per key is the test's state; the
store keeps every message as the test's quarantine history.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from schemas.base import Message, UtcDateTime

__all__ = ["QuarantineChange", "QuarantineSource", "QuarantineState"]

# ``active``: runs, and its failure fails the build (the default, and what an unmute or
# an expiry returns to); ``muted``: runs and reports, its failure does not fail the
# build; ``skipped``: not run.
QuarantineState = Literal["active", "muted", "skipped"]
QuarantineSource = Literal["manual", "policy"]


class QuarantineChange(Message):
    """One test's quarantine state from ``at`` on (key = ``key``, the test key
    ``suite/scope/name[/file]``).

    ``suite``, ``scope`` and ``name`` identify the test as runners see it (Buildkite's
    test engine matches muted and skipped tests on scope and name). ``set_by`` says who
    set it (a person's name as they gave it, or ``auto-quarantine``), ``source`` whether
    a person or the policy did, ``reason`` why. After ``until`` (when set) the test is
    ``active`` again without a new message. ``change_id`` is unique per change, so a
    duplicate delivery is recognised.
    """

    change_id: str
    key: str
    suite: str
    scope: str = ""
    name: str
    file_name: str | None = None
    state: QuarantineState
    reason: str = ""
    set_by: str
    source: QuarantineSource = "manual"
    at: UtcDateTime
    until: UtcDateTime | None = Field(
        default=None, description="When the state lapses back to active (null: never)."
    )
