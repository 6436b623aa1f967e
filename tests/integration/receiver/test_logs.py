"""Logs: one line per refused request with its reason, and never a token or a signature."""

from __future__ import annotations

import logging
import time

import pytest

from services.common.logs import JsonFormatter
from services.receiver.signature import sign
from tests.unit.receiver.clients import OLD_TOKEN, TOKEN, Receiver
from tests.unit.receiver.payloads import build_webhook


async def test_tokens_and_signatures_never_appear_in_logs(
    receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    now = int(time.time())
    guess = TOKEN[:-1] + "x"  # a near miss is someone's secret too
    signatures: list[str] = []
    with caplog.at_level(logging.DEBUG):
        await receiver.post(build_webhook(), token=TOKEN)
        await receiver.post(build_webhook(), token=OLD_TOKEN)
        await receiver.post(build_webhook(), token=guess)
        for token, at in [(TOKEN, now), (OLD_TOKEN, now - 1000), (guess, now)]:
            response = await receiver.post(build_webhook(), signed_with=token, at=at)
            signatures.append(response.request.headers["x-buildkite-signature"])
        await receiver.post(None, raw=b"{broken", token=TOKEN)
        await receiver.post(build_webhook(), token=TOKEN, headers={"content-type": "text/xml"})
        await receiver.post({"event": "ping"}, token=TOKEN)
        await receiver.client.get("/metrics")

    secrets = [TOKEN, OLD_TOKEN, guess]
    secrets += [s.split("signature=")[1] for s in signatures]
    secrets += [sign(TOKEN, now, b"{}").split("signature=")[1][:16]]  # any prefix of a MAC
    formatter = JsonFormatter()
    text_formatter = logging.Formatter("%(message)s %(args)s")
    rendered = [formatter.format(r) + text_formatter.format(r) for r in caplog.records]
    assert rendered, "the requests above must have logged something"
    for line in rendered:
        for secret in secrets:
            assert secret not in line, f"a secret leaked into the log: {line}"
    metrics = (await receiver.client.get("/metrics")).text
    assert all(secret not in metrics for secret in secrets)
