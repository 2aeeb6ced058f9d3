"""Golden payloads of wire version 1: each valid one decodes, each invalid one is refused for its reason.

Every payload is also checked against the checked-in JSON Schema, so devices
that validate with the schema agree with the cloud.
"""
from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import orjson
import pytest
from referencing import Registry, Resource

from protocols.decode import decode
from protocols.schema_gen import SCHEMA_DIR

GOLDEN = Path(__file__).parent / "golden"
NOW_MS = 1_795_300_000_000 + 3_600_000
SCHEMA_OF = {"hb": "Heartbeat", "det": "Detection", "alert": "SensorAlert", "report": "FieldReport",
             "state": "DeviceState"}


def load(kind: str) -> list[tuple[str, dict]]:
    return [(p.name, json.loads(p.read_text())) for p in sorted((GOLDEN / kind).glob("*.json"))]


def validator(name: str) -> jsonschema.Draft202012Validator:
    resources = [(f"https://gridwatch.dev/schema/v1/{p.name}", Resource.from_contents(json.loads(p.read_text())))
                 for p in SCHEMA_DIR.glob("*.json")]
    schema = json.loads((SCHEMA_DIR / f"{name}.json").read_text())
    return jsonschema.Draft202012Validator(schema, registry=Registry().with_resources(resources))


@pytest.mark.parametrize("name,case", load("valid"), ids=lambda v: v if isinstance(v, str) else "")
def test_valid_golden_payload_decodes(name, case):
    result = decode(case["topic"], orjson.dumps(case["payload"]), NOW_MS)
    assert result.rejections == [], result.rejections
    expected = case["payload"] if isinstance(case["payload"], list) else [case["payload"]]
    assert len(result.messages) == len(expected)
    for model, raw in zip(result.messages, expected):
        assert model.model_dump(exclude_unset=True) == raw  # nothing lost, unknown fields kept
    kind = case["topic"].rsplit("/", 1)[1]
    schema = "HeartbeatBatch" if isinstance(case["payload"], list) else SCHEMA_OF[kind]
    validator(schema).validate(case["payload"])


@pytest.mark.parametrize("name,case", load("invalid"), ids=lambda v: v if isinstance(v, str) else "")
def test_invalid_golden_payload_is_refused_with_its_reason(name, case):
    result = decode(case["topic"], orjson.dumps(case["payload"]), NOW_MS)
    assert result.messages == []
    assert [r.reason.value for r in result.rejections] == [case["reason"]] * len(result.rejections)
    assert result.rejections and all(r.detail for r in result.rejections)
