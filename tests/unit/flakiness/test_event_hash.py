"""The event-id hash windows and the changelog key executions by: the usual hex id is
read natively, and gives what Python's ``int(…, 16)`` gives; anything else is hashed as
before. (Run by ``make test`` on the sources and by ``make test-compiled`` compiled.)"""

from __future__ import annotations

import hashlib

from hypothesis import given
from hypothesis import strategies as st

from services.flakiness.execution import event_hash


def reference(event_id: str) -> int:
    """The hash as it was first written: Python's own parse of the first 16 digits."""
    try:
        if len(event_id) < 16:
            raise ValueError
        value = int(event_id[:16], 16)
    except ValueError:
        value = int.from_bytes(hashlib.blake2b(event_id.encode(), digest_size=8).digest(), "big")
    return value - (1 << 64) if value >= (1 << 63) else value


HEX = st.text(alphabet="0123456789abcdefABCDEF", min_size=16, max_size=40)
# what int(…, 16) also reads, or refuses, in the first 16 characters
NEAR_HEX = st.builds(
    lambda prefix, body, tail: prefix + body + tail,
    st.sampled_from(["", "0x", "0X", "+", "-", " ", "_", "é", "\u0660"]),
    st.text(alphabet="0123456789abcdef_ xg", min_size=0, max_size=20),
    st.text(max_size=10),
)


@given(HEX | NEAR_HEX | st.text(max_size=40))
def test_any_event_id_hashes_as_python_reads_it(event_id: str) -> None:
    assert event_hash(event_id) == reference(event_id)


def test_the_bounds_of_a_signed_64_bit_number() -> None:
    for digits, value in [
        ("0000000000000000", 0),
        ("7fffffffffffffff", (1 << 63) - 1),
        ("8000000000000000", -(1 << 63)),
        ("ffffffffffffffff", -1),
        ("FFFFFFFF00000000", -(1 << 32)),
        ("00000000ffffffff", (1 << 32) - 1),
    ]:
        assert event_hash(digits + "trailing, ignored") == value


def test_a_lone_surrogate_after_the_digits_is_no_error() -> None:
    # JSON decoders refuse one; the hash still reads only the first 16 characters
    assert event_hash("0123456789abcdef\ud800") == reference("0123456789abcdef")
