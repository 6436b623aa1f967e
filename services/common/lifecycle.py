"""Run a long-lived service until SIGINT or SIGTERM, then let it stop cleanly.

:func:`run_service` is what every processor's ``cli.py`` calls: it runs the service
under :func:`run_until_signalled` and, when the service stops on a failure it cannot
work around (Kafka unreachable, fenced by a newer instance, inputs not
co-partitioned), logs one line saying so and returns exit status 1.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable

__all__ = ["one_line", "run_service", "run_until_signalled"]

log = logging.getLogger(__name__)


def run_until_signalled(main: Callable[[asyncio.Event], Awaitable[None]]) -> int:
    """Run ``main(stop)`` in a new event loop; SIGINT/SIGTERM set ``stop``.

    ``main`` is expected to notice ``stop``, finish its current unit of work (flush,
    commit) and return. A second signal cancels it outright.
    """

    async def runner() -> None:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        task = asyncio.current_task()

        def on_signal(signum: int) -> None:
            if stop.is_set():
                log.warning("second signal %d: stopping now", signum)
                if task is not None:
                    task.cancel()
                return
            log.info("signal %d: finishing current work, then stopping", signum)
            stop.set()

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, on_signal, sig)
        try:
            await main(stop)
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)

    try:
        asyncio.run(runner())
    except asyncio.CancelledError:
        return 130
    return 0


def run_service(name: str, main: Callable[[asyncio.Event], Awaitable[None]]) -> int:
    """:func:`run_until_signalled`, with one log line and status 1 when ``main`` fails
    on Kafka, the stream runtime or the network."""
    from aiokafka.errors import KafkaError

    from services.common.processor import ProcessorError
    from services.common.trouble import KafkaGaveUp

    try:
        return run_until_signalled(main)
    except (ProcessorError, KafkaGaveUp, KafkaError, TimeoutError, OSError) as exc:
        log.error("%s stopped: %s", name, one_line(exc))
        return 1


def one_line(exc: BaseException) -> str:
    """``exc`` as one line that says what failed: its type unless its message starts
    with it (aiokafka's do), then its message."""
    text = " ".join(str(exc).split())
    kind = type(exc).__name__
    if text.startswith(kind):
        return text
    return f"{kind}: {text}" if text else kind
