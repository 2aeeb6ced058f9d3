"""Generate the checked-in JSON Schema files and the AsyncAPI 3 document from the models.

`gridwatch protocols generate` writes them; a test fails when they drift.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from . import topics
from .models import DOWNLINK_MODELS, MAX_HEARTBEAT_ARRAY, UPLINK_MODELS

HERE = Path(__file__).parent
SCHEMA_DIR = HERE / "schema"
ASYNCAPI_FILE = HERE / "asyncapi.json"

_NAMES = {"hb": "Heartbeat", "alert": "SensorAlert", "det": "Detection", "report": "FieldReport",
          "state": "DeviceState", "cmd": "Command", "ack": "Receipt"}


def _dump(doc: Any) -> bytes:
    return orjson.dumps(doc, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"


def json_schemas() -> dict[str, dict[str, Any]]:
    """File name -> JSON Schema (draft 2020-12) for every message, plus the heartbeat array."""
    out: dict[str, dict[str, Any]] = {}
    for kind, model in {**UPLINK_MODELS, **DOWNLINK_MODELS}.items():
        schema = model.model_json_schema(mode="validation")
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        schema["$id"] = f"https://gridwatch.dev/schema/v1/{_NAMES[kind]}.json"
        out[f"{_NAMES[kind]}.json"] = schema
    out["HeartbeatBatch.json"] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://gridwatch.dev/schema/v1/HeartbeatBatch.json",
        "title": "HeartbeatBatch",
        "type": "array",
        "minItems": 1,
        "maxItems": MAX_HEARTBEAT_ARRAY,
        "items": {"$ref": "Heartbeat.json"},
    }
    return out


def asyncapi() -> dict[str, Any]:
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for kind in topics.UPLINK_KINDS + topics.DOWNLINK_KINDS:
        name = _NAMES[kind]
        messages[name] = {"name": name, "contentType": "application/json",
                          "payload": {"$ref": f"schema/{name}.json"}}
        uplink = kind in topics.UPLINK_KINDS
        channel: dict[str, Any] = {
            "address": f"{topics.ROOT}/{{dev}}/{kind}",
            "parameters": {"dev": {"description": f"device id, {topics.DEVICE_ID_PATTERN}"}},
            "messages": {name: {"$ref": f"#/components/messages/{name}"}},
            "bindings": {"mqtt": {"qos": 1, "retain": kind == "state", "bindingVersion": "0.2.0"}},
        }
        if kind == "hb":
            messages["HeartbeatBatch"] = {"name": "HeartbeatBatch", "contentType": "application/json",
                                          "payload": {"$ref": "schema/HeartbeatBatch.json"}}
            channel["messages"]["HeartbeatBatch"] = {"$ref": "#/components/messages/HeartbeatBatch"}
        channels[kind] = channel
        operations[f"{'publish' if uplink else 'receive'}_{kind}"] = {
            "action": "send" if uplink else "receive",
            "channel": {"$ref": f"#/channels/{kind}"},
            "summary": f"device {'sends' if uplink else 'receives'} {name}",
        }
    return {
        "asyncapi": "3.0.0",
        "info": {"title": "gridwatch device protocol", "version": "1.0.0",
                 "description": "Wire contract between gridwatch edge devices and the cloud (CONTRACT.md)."},
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages},
    }


def rendered() -> dict[Path, bytes]:
    files = {SCHEMA_DIR / name: _dump(doc) for name, doc in json_schemas().items()}
    files[ASYNCAPI_FILE] = _dump(asyncapi())
    return files


def write_all() -> list[Path]:
    SCHEMA_DIR.mkdir(exist_ok=True)
    written = []
    for path, content in rendered().items():
        path.write_bytes(content)
        written.append(path)
    return written
