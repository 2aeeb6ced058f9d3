"""Pure pieces of the API: time parameters, payload rendering, scope conditions, stream slots."""
from __future__ import annotations

import base64
import gc
import ipaddress
from datetime import datetime, timedelta, timezone

import pytest

from cloud.api import commands
from cloud.api.deps import Scope, parse_instant
from cloud.api.live import LiveLimits, LiveRegistry, sse
from cloud.api.models import iso_utc
from cloud.api.routes.deadletters import render_payload
from cloud.api.routes.ops import client_allowed
from cloud.users import ROLES

UTC = timezone.utc


@pytest.mark.parametrize("text,expected", [
    ("2024-05-01T08:00:00Z", datetime(2024, 5, 1, 8, tzinfo=UTC)),
    ("2024-05-01T16:00:00+08:00", datetime(2024, 5, 1, 8, tzinfo=UTC)),
    ("2024-05-01T08:00:00", datetime(2024, 5, 1, 8, tzinfo=UTC)),  # no offset: UTC
    ("2024-05-01", datetime(2024, 5, 1, tzinfo=UTC)),
    ("1714550400000", datetime(2024, 5, 1, 8, tzinfo=UTC)),  # epoch milliseconds
    ("1714550400123", datetime(2024, 5, 1, 8, 0, 0, 123000, tzinfo=UTC)),
])
def test_instants_parse_from_iso_8601_or_epoch_milliseconds(text, expected):
    assert parse_instant(text) == expected


@pytest.mark.parametrize("text", ["yesterday", "", "2024-13-01", "9999999999999999"])
def test_unparseable_instants_are_value_errors(text):
    with pytest.raises(ValueError):
        parse_instant(text)


def test_instants_leave_the_api_as_utc_iso_strings_with_milliseconds():
    shanghai = timezone(timedelta(hours=8))
    assert iso_utc(datetime(2024, 5, 1, 16, 0, 0, 123456, tzinfo=shanghai)) == "2024-05-01T08:00:00.123Z"


def test_utf8_payloads_render_as_text():
    assert render_payload(b'{"a": 1}', 8) == {"encoding": "utf-8", "payload": '{"a": 1}', "truncated": False,
                                              "size": 8}


def test_binary_payloads_render_as_base64():
    out = render_payload(b"\xff\x00", 2)
    assert out["encoding"] == "base64" and base64.b64decode(out["payload"]) == b"\xff\x00"


def test_a_cut_inside_a_utf8_character_still_renders_as_text():
    raw = "aé€😀".encode()  # 1 + 2 + 3 + 4 bytes
    for limit in range(1, len(raw)):
        out = render_payload(raw[:limit], len(raw), limit=limit)
        assert out["encoding"] == "utf-8" and out["truncated"], limit
        assert "aé€😀".startswith(out["payload"])


def test_invalid_utf8_in_a_truncated_payload_is_still_base64():
    out = render_payload(b"\xff" * 10, 100, limit=10)
    assert out["encoding"] == "base64" and out["truncated"]


def test_an_unrestricted_scope_adds_no_condition():
    scope = Scope(None)
    assert scope.rows("grid") == "TRUE" and scope.devices("d.dev") == "TRUE"


def test_a_grid_scope_conditions_rows_and_devices_on_its_grids():
    scope = Scope(("A", "A1"))
    assert scope.rows("h.grid") == "h.grid = ANY(%(scope_grids)s)"
    assert "scope_hb.dev = d.dev" in scope.devices("d.dev")
    assert scope.params == {"scope_grids": ["A", "A1"]}


def test_stream_slots_are_bounded_per_user_and_in_total():
    registry = LiveRegistry(LiveLimits(max_streams=3, max_streams_per_user=2))
    a1, a2 = registry.acquire(1), registry.acquire(1)
    assert a1 and a2 and registry.acquire(1) is None
    b1 = registry.acquire(2)
    assert b1 and registry.acquire(3) is None  # three in total
    a1.release()
    assert registry.acquire(3) is not None


def test_a_stream_slot_that_was_never_released_frees_itself_when_dropped():
    registry = LiveRegistry(LiveLimits(max_streams=1, max_streams_per_user=1))
    lease = registry.acquire(1)
    assert registry.acquire(2) is None
    del lease
    gc.collect()
    assert registry.open_streams() == 0


def test_server_sent_events_are_framed_by_a_blank_line():
    assert sse("position", {"dev": "h1"}) == 'event: position\ndata: {"dev":"h1"}\n\n'


def test_metrics_clients_are_matched_against_networks():
    local = tuple(ipaddress.ip_network(n) for n in ("127.0.0.0/8", "::1/128"))
    assert client_allowed("127.0.0.1", local) and client_allowed("::1", local)
    assert not client_allowed("192.0.2.1", local)
    assert not client_allowed("testclient", local) and not client_allowed(None, local)


def test_the_cli_offers_the_roles_the_database_accepts():
    assert commands.ROLES == ROLES
