"""How close in event time a failure, a deploy and an incident must be to line up.

::

          failure window (±60 min)          incident window (120 min)
    ├──────────────────┼──────────────────┤─────────────────────────────────┤
                    deploy ─────────────────────────────────────────────▶ incident opens
        a failure anywhere in here            the incident opens in here

A deploy lines up with a failure when ``|failure - deploy| <= failure``, and with an
incident when ``0 <= incident - deploy <= incident``. ``retention`` is how long each
service keeps what it saw, measured back from the newest event time of that service; it
must cover both windows plus how late events may arrive.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

__all__ = ["Windows", "spoken"]


@dataclass(frozen=True)
class Windows:
    failure: timedelta = timedelta(minutes=60)
    incident: timedelta = timedelta(minutes=120)
    retention: timedelta = timedelta(hours=24)

    def __post_init__(self) -> None:
        if self.retention < self.failure + self.incident:
            raise ValueError(
                f"retention {self.retention} must cover the failure window {self.failure} "
                f"plus the incident window {self.incident}"
            )

    def deploy_near_failure(self, deploy: datetime, failure: datetime) -> bool:
        return abs(failure - deploy) <= self.failure

    def incident_after_deploy(self, deploy: datetime, incident: datetime) -> bool:
        return timedelta(0) <= incident - deploy <= self.incident


def spoken(delta: timedelta) -> str:
    """A distance in time as a person says it: ``25 min``, ``2 h``, ``1 h 5 min``."""
    minutes = round(abs(delta.total_seconds()) / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, rest = divmod(minutes, 60)
    return f"{hours} h {rest} min" if rest else f"{hours} h"
