from __future__ import annotations

import socket

from tests.ports import _ephemeral_start, free_port


def test_free_ports_come_from_below_the_ephemeral_range_and_can_be_bound() -> None:
    for pairs in (1, 6):
        port = free_port(pairs)
        assert port >= 20000
        assert port + pairs <= _ephemeral_start()
        for offset in range(pairs):
            with socket.socket() as s:
                s.bind(("127.0.0.1", port + offset))
