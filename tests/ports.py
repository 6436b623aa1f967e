"""Free loopback ports for the servers and brokers tests start."""

from __future__ import annotations

import socket

__all__ = ["free_port"]


def free_port(pairs: int = 1) -> int:
    """A port p such that p .. p + pairs - 1 were free a moment ago (``pairs=2``: a
    broker and its controller)."""
    for _ in range(100):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if all(_free(port + i) for i in range(1, pairs)):
            return port
    raise RuntimeError("no free port")


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True
