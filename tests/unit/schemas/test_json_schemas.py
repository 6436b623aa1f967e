"""The checked-in JSON Schemas are what the models generate (run ``python -m schemas``)."""

from __future__ import annotations

import pytest

from schemas.registry import TOPIC_MODELS, render_all
from services.common.topics import Topic


def test_every_contract_topic_has_a_schema() -> None:
    assert set(TOPIC_MODELS) == {str(t) for t in Topic}


@pytest.mark.parametrize("path_content", list(render_all().items()), ids=lambda pc: pc[0].name)
def test_checked_in_schema_matches_the_model(path_content: tuple[object, bytes]) -> None:
    path, content = path_content
    from pathlib import Path

    assert isinstance(path, Path)
    assert path.is_file(), f"{path.name} missing: run `python -m schemas`"
    assert path.read_bytes() == content, f"{path.name} drifted: run `python -m schemas`"
