"""Run a long-lived service until SIGINT or SIGTERM, then let it stop cleanly."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable

__all__ = ["run_until_signalled"]

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
