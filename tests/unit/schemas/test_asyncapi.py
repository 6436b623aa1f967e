"""``schemas/asyncapi.yaml`` is what the models generate, and valid AsyncAPI 3.0."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from jsonschema import Draft7Validator

from schemas.asyncapi import ASYNCAPI_PATH, render_asyncapi
from schemas.channels import CHANNELS
from schemas.registry import JSON_DIR, TOPIC_MODELS
from services.common.topics import Topic, Topics, topic_specs

SPEC = Path(__file__).parents[2] / "fixtures" / "asyncapi" / "asyncapi-3.0.0.schema.json"


@pytest.fixture(scope="module")
def validator() -> Draft7Validator:
    return Draft7Validator(orjson.loads(SPEC.read_bytes()))


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(ASYNCAPI_PATH.read_text())
    return loaded


def _resolve(node: Any, root: dict[str, Any], prefix: str) -> Any:
    """``node`` with every local ``$ref`` (``prefix`` + name) replaced by what it names."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(prefix):
            return _resolve(root[ref.removeprefix(prefix)], root, prefix)
        return {k: _resolve(v, root, prefix) for k, v in node.items()}
    if isinstance(node, list):
        return [_resolve(item, root, prefix) for item in node]
    return node


def _pointer(document: dict[str, Any], ref: str) -> Any:
    node: Any = document
    for part in ref.removeprefix("#/").split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def test_checked_in_asyncapi_matches_the_models() -> None:
    assert ASYNCAPI_PATH.is_file(), "schemas/asyncapi.yaml missing: run `python -m schemas`"
    assert ASYNCAPI_PATH.read_bytes() == render_asyncapi(), (
        "schemas/asyncapi.yaml drifted: run `python -m schemas`"
    )


def test_the_document_is_valid_asyncapi_3(
    validator: Draft7Validator, document: dict[str, Any]
) -> None:
    errors = [
        f"{list(e.absolute_path)}: {e.message[:200]}" for e in validator.iter_errors(document)
    ]
    assert errors == []


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (
            ("channels", "alerts", "bindings", "kafka", "topicConfiguration", "cleanup.policy"),
            ["x"],
        ),
        (("operations", "dispatcher.receive.alerts", "action"), "consume"),
        (("components", "messages", "Alert", "bindings", "kafka", "bindingVersion"), "9.9.9"),
        (("asyncapi",), "2.6.0"),
    ],
    ids=["cleanup-policy", "operation-action", "binding-version", "asyncapi-version"],
)
def test_the_specification_schema_refuses_a_broken_document(
    validator: Draft7Validator, document: dict[str, Any], path: tuple[str, ...], value: object
) -> None:
    broken = copy.deepcopy(document)
    node = broken
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    assert not validator.is_valid(broken)


def test_every_contract_topic_is_a_channel_under_the_prefix(document: dict[str, Any]) -> None:
    assert set(CHANNELS) == set(TOPIC_MODELS) == {str(t) for t in Topic}
    addresses = {c["address"] for c in document["channels"].values()}
    assert addresses == {"{prefix}" + str(t) for t in Topic}
    assert "prefix" in document["components"]["parameters"]


def test_compaction_is_what_topics_create_configures(document: dict[str, Any]) -> None:
    created = {
        spec.name: spec.config.get("cleanup.policy", "delete") for spec in topic_specs(Topics())
    }
    said = {
        topic: channel["bindings"]["kafka"]["topicConfiguration"]["cleanup.policy"]
        for topic, channel in document["channels"].items()
    }
    assert said == {topic: [policy] for topic, policy in created.items()}
    assert said["flakiness.state"] == ["compact"]


def test_every_message_names_its_key(document: dict[str, Any]) -> None:
    for topic, channel in document["channels"].items():
        (message,) = [_pointer(document, m["$ref"]) for m in channel["messages"].values()]
        key = message["bindings"]["kafka"]["key"]
        assert key["type"] == "string"
        assert CHANNELS[topic].key in key["description"]


def test_every_reference_resolves(document: dict[str, Any]) -> None:
    refs: list[str] = []

    def collect(node: Any) -> None:
        if isinstance(node, dict):
            refs.extend(v for k, v in node.items() if k == "$ref" and isinstance(v, str))
            for v in node.values():
                collect(v)
        elif isinstance(node, list):
            for v in node:
                collect(v)

    collect(document)
    assert refs
    for ref in refs:
        assert ref.startswith("#/"), ref
        _pointer(document, ref)  # raises KeyError when it names nothing


@pytest.mark.parametrize("topic", list(TOPIC_MODELS))
def test_each_payload_is_the_topics_json_schema(document: dict[str, Any], topic: str) -> None:
    schemas = document["components"]["schemas"]
    name = TOPIC_MODELS[topic].__name__
    message = document["components"]["messages"][name]
    assert message["payload"] == {"$ref": f"#/components/schemas/{name}"}
    payload = _resolve(schemas[name], schemas, "#/components/schemas/")

    published: dict[str, Any] = orjson.loads((JSON_DIR / f"{topic}.schema.json").read_bytes())
    defs = published.pop("$defs", {})
    del published["$schema"], published["$id"]
    assert payload == _resolve(published, defs, "#/$defs/")


def test_two_different_definitions_under_one_name_are_refused() -> None:
    from schemas import asyncapi

    components: dict[str, Any] = {"Pipeline": {"type": "object"}}
    with pytest.raises(ValueError, match="Pipeline"):
        asyncapi._lift({"$defs": {"Pipeline": {"type": "string"}}}, into=components)


def test_a_topic_without_its_channel_facts_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    from schemas.asyncapi import asyncapi_document

    monkeypatch.delitem(CHANNELS, "tests.runs")
    with pytest.raises(ValueError, match=r"schemas/channels.py: \['tests.runs'\]"):
        asyncapi_document()
