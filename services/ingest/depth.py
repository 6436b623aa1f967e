"""How deep parsed JSON nests (pure): objects and arrays inside one another.

A JSON body nested deeper than a limit is refused (400) before anything reads it:
consumers recurse into payloads, and a deep one would make them fail far from here.
:func:`depth_exceeds` walks the parsed value, stopping ``max_depth`` levels down. It is
one of the modules mypyc compiles where the install can (:mod:`services.compiled`):
compiled, the walk takes 2.7 µs on the 4 KB webhook of ``bench/receiver.py`` against
5.8 µs for :func:`services.ingest.request.bracket_depth_exceeds`' reading of the bytes,
and 10 µs for this walk as Python; :func:`services.ingest.request.load_json` picks the
faster of the two for the build it runs.
"""

from __future__ import annotations

from typing import Any

__all__ = ["depth_exceeds"]


def depth_exceeds(value: Any, max_depth: int) -> bool:
    """Whether ``value`` nests objects/arrays deeper than ``max_depth`` (``{}`` is 1).

    Recursion stops at ``max_depth`` levels, so its depth is bounded by the setting.
    (An object and an array each have their own loop: compiled, each is then a loop
    over a dict's values or a list's items, not over any iterable.)
    """
    if type(value) is dict:
        if max_depth <= 0:
            return True
        for child in value.values():
            if (type(child) is dict or type(child) is list) and depth_exceeds(child, max_depth - 1):
                return True
    elif type(value) is list:
        if max_depth <= 0:
            return True
        for item in value:
            if (type(item) is dict or type(item) is list) and depth_exceeds(item, max_depth - 1):
                return True
    return False
