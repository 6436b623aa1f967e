"""The usual shape of a ``tests.results`` value, for msgspec to read raw bytes into.

msgspec decodes a value straight into these typed fields, skipping the fields the
flakiness processor does not use (duration, failure text, location…) without making
Python objects for them, and leaves ``run_env`` as raw bytes: the results of one upload
share it, so comparing bytes says "same job as the previous result" without decoding
it again. A value of any other shape (a field of another type, something missing, not
JSON at all) fails to decode here and is read by the tolerant path instead
(:func:`services.flakiness.inputs.from_test_result`), which gives the same execution
or raises the same error, as a property test holds them to. This module is not
compiled with mypyc (msgspec's structs are its own C types). The structs are left out
of the garbage collector's tracking (``gc=False``): they hold only strings, numbers and
raw bytes, so they cannot be part of a cycle. ``inputs`` reads the fields by position
(``msgspec.structs.astuple``): their order here is part of how it reads them.
"""

from __future__ import annotations

import msgspec

__all__ = ["EMPTY_ENV", "RESULT", "ResultShape", "TestShape"]

EMPTY_ENV = msgspec.Raw(b"")


class TestShape(msgspec.Struct, gc=False):
    """The ``test`` object: what identifies the test."""

    __test__ = False  # not a pytest test class

    name: str
    scope: str | None = None
    file_name: str | None = None


class ResultShape(msgspec.Struct, gc=False):
    """The fields of a ``tests.results`` value that make an execution."""

    result: str
    test: TestShape
    suite: str
    event_id: str
    received_at: str | int | float
    attempt: int | None = None
    upload_id: str | None = None
    run_env: msgspec.Raw = EMPTY_ENV


RESULT = msgspec.json.Decoder(ResultShape)
