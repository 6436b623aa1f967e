"""One HTTP request to a sink, and what its answer means for retrying.

=====================================  =========================================
answer                                 outcome
=====================================  =========================================
2xx                                    delivered
3xx                                    refused for good: redirects are not followed
408, 5xx, connection error, timeout    retry; counts against the sink's breaker
425, 429                               retry no sooner than ``Retry-After``
other 4xx                              refused for good (bad payload, bad credentials)
destination refused (outbound safety)  refused for good
=====================================  =========================================
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx

from services.dispatcher.backoff import parse_retry_after
from services.dispatcher.errors import DeliveryFailed, DestinationRefused
from services.dispatcher.outbound import SinkClient

__all__ = ["raise_for_answer", "request"]


async def request(
    client: SinkClient,
    method: str,
    url: str,
    *,
    content: bytes | None = None,
    headers: dict[str, str] | None = None,
    params: dict[str, Any] | None = None,
) -> httpx.Response:
    """Send one request; transport trouble becomes :class:`DeliveryFailed`.

    The answer's status is not judged here (see :func:`raise_for_answer`).
    """
    try:
        return await client.request(method, url, content=content, headers=headers, params=params)
    except DestinationRefused as exc:
        raise DeliveryFailed(f"destination refused: {exc}", retryable=False) from None
    except httpx.TimeoutException as exc:
        raise DeliveryFailed(
            f"timed out ({type(exc).__name__})", retryable=True, sink_down=True
        ) from None
    except httpx.TransportError as exc:
        raise DeliveryFailed(
            f"connection failed ({type(exc).__name__}: {exc})", retryable=True, sink_down=True
        ) from None


def raise_for_answer(response: httpx.Response) -> None:
    """Return on 2xx; otherwise raise :class:`DeliveryFailed` as the table above says."""
    status = response.status_code
    if 200 <= status < 300:
        return
    if 300 <= status < 400:
        try:
            target = httpx.URL(response.headers.get("location", "")).host or "elsewhere"
        except httpx.InvalidURL:
            target = "an invalid URL"
        raise DeliveryFailed(
            f"HTTP {status}, a redirect to {target}: redirects are not followed",
            retryable=False,
            status=status,
        )
    detail = _excerpt(response)
    retry_after = parse_retry_after(response.headers.get("retry-after"), datetime.now(UTC))
    if status in (425, 429):
        raise DeliveryFailed(
            f"HTTP {status}{detail}", retryable=True, retry_after_s=retry_after, status=status
        )
    if status == 408 or status >= 500:
        raise DeliveryFailed(
            f"HTTP {status}{detail}",
            retryable=True,
            sink_down=True,
            retry_after_s=retry_after,
            status=status,
        )
    raise DeliveryFailed(f"HTTP {status}{detail}", retryable=False, status=status)


def _excerpt(response: httpx.Response, limit: int = 200) -> str:
    """A short, single-line piece of the answer's body (Slack says why in plain text)."""
    text = " ".join(response.text.split())[:limit]
    return f": {text}" if text else ""
