"""The checked-in JSON Schema and AsyncAPI files are what the models generate."""
from __future__ import annotations

from protocols.schema_gen import ASYNCAPI_FILE, rendered


def test_checked_in_schema_files_match_the_models():
    stale = [p.name for p, content in rendered().items() if not p.exists() or p.read_bytes() != content]
    assert stale == [], f"run `gridwatch protocols generate`: {stale} drifted"


def test_asyncapi_document_names_every_topic_of_the_contract():
    import json

    doc = json.loads(ASYNCAPI_FILE.read_text())
    assert doc["asyncapi"].startswith("3.")
    addresses = sorted(ch["address"] for ch in doc["channels"].values())
    assert addresses == sorted(f"gw/v1/{{dev}}/{k}" for k in ("hb", "alert", "det", "report", "state", "cmd", "ack"))
    assert doc["channels"]["state"]["bindings"]["mqtt"]["retain"] is True
