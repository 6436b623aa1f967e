"""Generated deploy and incident histories for the delivery tests, by day and hour."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.delivery.records import Deploy, Incident, Link

__all__ = ["at", "deploy", "incident", "link"]


def at(day: str, hour: float = 0.0) -> datetime:
    """``2026-11-02`` at ``hour`` o'clock UTC."""
    return datetime.fromisoformat(day).replace(tzinfo=UTC) + timedelta(hours=hour)


def deploy(
    deploy_id: str,
    finished: datetime,
    lead_hours: float | None = None,
    service: str = "payments-api",
) -> Deploy:
    """A deploy whose commit was first built ``lead_hours`` before it finished."""
    committed = None if lead_hours is None else finished - timedelta(hours=lead_hours)
    return Deploy(
        deploy_id=f"deploy:{deploy_id}",
        service=service,
        finished_at=finished,
        commit=None if lead_hours is None else f"c-{deploy_id}",
        committed_at=committed,
        commit_time_source=None if committed is None else "first_build",
    )


def incident(
    incident_id: str,
    opened: datetime,
    restore_hours: float | None = None,
    service: str = "payments-api",
) -> Incident:
    resolved = None if restore_hours is None else opened + timedelta(hours=restore_hours)
    return Incident(incident_id, opened, resolved, f"incident {incident_id}", None, service)


def link(
    alert_id: str, deploy_id: str, incident_id: str, deployed_service: str = "payments-api"
) -> Link:
    return Link(
        alert_id=alert_id,
        deploy_id=f"deploy:{deploy_id}",
        deployed_service=deployed_service,
        incident_id=incident_id,
        summary=f"{alert_id}: incident {incident_id} after deploy {deploy_id}",
        links={"incident": f"https://pd.example/{incident_id}"},
    )
