"""What a subscriber needs to know of each contract topic besides its values' schema.

The key each message carries (so the partition it lands on), whether the topic is
compacted, and which kitestream services write and read it. ``schemas/asyncapi.yaml`` is
built from this table and the models (``schemas.asyncapi``); a test checks that the
compaction said here is what ``kitestream topics create`` configures.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CHANNELS", "Channel", "Reader"]


@dataclass(frozen=True)
class Reader:
    """A kitestream service that consumes a topic, and its consumer group
    (``KITESTREAM_TOPIC_PREFIX`` goes in front of the group too)."""

    service: str
    group: str


@dataclass(frozen=True)
class Channel:
    """One contract topic: what it carries, its key, and who writes and reads it."""

    summary: str
    key: str
    writers: tuple[str, ...]
    readers: tuple[Reader, ...] = ()
    compacted: bool = False


_FLAKINESS = Reader("flakiness", "kitestream-flakiness")
_CORRELATOR = Reader("correlator", "kitestream-correlator")
_DISPATCHER = Reader("dispatcher", "kitestream-dispatcher")

# Unprefixed topic name -> its facts, in the order of the contract table (DESIGN.md).
CHANNELS: dict[str, Channel] = {
    "buildkite.builds": Channel(
        summary="Buildkite build.* webhooks, normalised; the raw webhook under `payload`.",
        key="pipeline slug",
        writers=("receiver",),
        readers=(_CORRELATOR,),
    ),
    "buildkite.jobs": Channel(
        summary="Buildkite job.* webhooks, normalised (job, build reference, pipeline).",
        key="pipeline slug",
        writers=("receiver",),
        readers=(_FLAKINESS, _CORRELATOR),
    ),
    "buildkite.agents": Channel(
        summary="Buildkite agent.* webhooks and event families not known yet (kept, not read).",
        key="agent id (the event name when the payload names no agent)",
        writers=("receiver",),
    ),
    "tests.results": Channel(
        summary="One message per test execution, from the test collectors' uploads.",
        key="suite slug",
        writers=("receiver",),
        readers=(_FLAKINESS,),
    ),
    "deploys": Channel(
        summary="Deploys started and finished, from `POST /api/deploys`.",
        key="service, as the deploy tool sent it",
        writers=("receiver",),
        readers=(_CORRELATOR,),
    ),
    "incidents": Channel(
        summary="Incidents opened, changed and closed (PagerDuty, `POST /api/incidents`).",
        key="service as sent; for PagerDuty its service id (the catalog maps it to a service)",
        writers=("receiver",),
        readers=(_CORRELATOR,),
    ),
    "flakiness.state": Channel(
        summary="Current window summary and flaky status per test or pipeline step.",
        key="test key (`suite/scope/name[/file]`) or step key (`pipeline#step`)",
        writers=("flakiness",),
        compacted=True,
    ),
    "tests.runs": Channel(
        summary="Per build and suite: the failed tests, and which of them are known flaky.",
        key="pipeline slug",
        writers=("flakiness",),
        readers=(_CORRELATOR,),
    ),
    "alerts": Channel(
        summary="Alerts for people: failure + deploy + incident, flaky test, recovered.",
        key="service (`failure_deploy_incident`) or test key (`flaky_test*`)",
        writers=("flakiness", "correlator"),
        readers=(_DISPATCHER,),
    ),
    "tests.quarantine": Channel(
        summary="Quarantine changes per test: muted, skipped or active, who, why, until.",
        key="test key (`suite/scope/name[/file]`)",
        writers=("api", "store"),
        readers=(Reader("store", "kitestream-store"),),
        compacted=True,
    ),
    "kitestream.dlq": Channel(
        summary="Messages a service could not handle, with the error and their origin.",
        key="the original message's key",
        writers=("flakiness", "correlator", "dispatcher"),
    ),
}
