"""The receiver's endpoints: :func:`~services.receiver.app.create_app` serves this list.

To add an ingest endpoint, write a module exposing an
:class:`~services.receiver.endpoints.Endpoint` (see ``buildkite_webhook.py``: it reads
its body with :mod:`~services.receiver.body`, checks credentials with
:mod:`~services.receiver.auth` / :mod:`~services.receiver.signature`, and hands its
messages to ``ingest.delivery.accept``), add it here, and regenerate the checked-in
OpenAPI document with ``python -m services.receiver.openapi``.
"""

from __future__ import annotations

from services.receiver import buildkite_webhook, health, ingest_endpoints
from services.receiver.endpoints import Endpoint

__all__ = ["ENDPOINTS"]

ENDPOINTS: list[Endpoint] = [
    buildkite_webhook.ENDPOINT,
    *ingest_endpoints.ENDPOINTS,
    *health.ENDPOINTS,
]
