"""Free loopback ports for the servers and brokers tests start.

They are picked below the kernel's ephemeral range (``ip_local_port_range``), where no
outgoing connection takes one in the seconds between the pick and the server's bind: a
three-broker cluster picked from that range once found a port taken by some client's
connection by the time its last node started ("Address already in use").
"""

from __future__ import annotations

import random
import socket
from pathlib import Path

__all__ = ["free_port"]

_LOWEST = 20000
_PICK = random.SystemRandom()  # not the module's generator, which hypothesis seeds
_RANGE_FILE = Path("/proc/sys/net/ipv4/ip_local_port_range")


def free_port(pairs: int = 1) -> int:
    """A port p such that p .. p + pairs - 1 were free a moment ago (``pairs=2``: a
    broker and its controller)."""
    highest = _ephemeral_start() - pairs
    below = highest - _LOWEST >= 1000  # else no room there: the kernel's pick
    for _ in range(1000):
        port = _PICK.randrange(_LOWEST, highest) if below else _ephemeral_port()
        if all(_free(port + i) for i in range(pairs)):
            return port
    raise RuntimeError("no free port")


def _ephemeral_start() -> int:
    try:
        return int(_RANGE_FILE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768  # Linux's default


def _ephemeral_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True
