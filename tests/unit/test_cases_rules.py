"""Pure rules of cases: the catalog file, component CSV, incident cells and the workflow table."""
from __future__ import annotations

import random

import pytest

from cloud.cases.catalog import CatalogError, load_catalog, parse_catalog
from cloud.cases.components import ComponentFileError, ComponentIndex, parse_components
from cloud.cases.geometry import M_PER_DEG, distance_m, incident_cell, lock_cells
from cloud.cases.workflow import ACTIONS, STATUSES, Actor, allowed_actions, may_take


def test_the_default_catalog_holds_the_contract_table():
    cat = load_catalog()
    table = {k: (s.department, s.sla_hours, s.round_the_clock) for k, s in cat.kinds.items()}
    assert table == {
        "obstruction": ("urban management", 8, False), "garbage": ("sanitation", 8, False),
        "waterlogging": ("water affairs", 8, False), "fire": ("fire brigade", 1, True),
        "smoke": ("fire brigade", 1, True), "crowd": ("public security", 1, True),
        "manhole": ("", 72, False), "pipe_burst": ("water supply", 8, True), "camera_tamper": ("", 72, False)}
    assert [cat.kind_for("sensor", s) for s in ("water_level", "manhole_tilt", "pipe_pressure", "smoke", "gas")] \
        == ["waterlogging", "manhole", "pipe_burst", "smoke", "smoke"]
    assert cat.kind_for("detection", "garbage") == "garbage" and cat.kind_for("detection", "cat") is None
    assert cat.kind_for("sensor", "garbage") is None  # sensors map only through their table


@pytest.mark.parametrize("text,fault", [
    ("[kinds.x]\ndepartment='a'\nsla_hours=1\ncolour='red'", "kinds.x.colour"),
    ("[kinds.x]\ndepartment='a'\nsla_hours=0", "kinds.x.sla_hours"),
    ("[kinds.x]\ndepartment='a'\nsla_hours=1\n[sources.sensor]\nsmoke='fire'", "sources.sensor.smoke"),
    ("[kinds.x", "not valid TOML"),
])
def test_a_catalog_with_a_typo_fails_at_load_naming_the_key(text, fault):
    with pytest.raises(CatalogError, match=fault.replace(".", r"\.")):
        parse_catalog(text)


def test_components_csv_with_and_without_header_and_name():
    comps = parse_components("code,kind,department,lat,lon,name\nA,manhole,roads,31.2,121.4,north\n"
                             "B,hydrant,water,31.3,121.5,\n")
    assert [(c.code, c.name) for c in comps] == [("A", "north"), ("B", None)]
    assert parse_components("C,pipe,water,1,2\n")[0].lat == 1.0


@pytest.mark.parametrize("text,line", [
    ("code,kind,department,lat,lon\nA,m,d,31,121\nB,m,d,91,121\n", "line 3: lat"),
    ("A,m,d,31,121\nA,m,d,31,121\n", "line 2: code 'A' already on line 1"),
    ("A,m,,31,121\n", "line 1: department is empty"),
    ("A,m,d,31\n", "line 1: expected 5 or 6 columns"),
    ("A,m,d,x,121\n", "line 1: lat 'x' is not a number"),
    ("code,kind,owner,lat,lon\n", "line 1: header"),
    ("", "no components"),
])
def test_a_bad_components_file_is_refused_whole_with_the_line(text, line):
    with pytest.raises(ComponentFileError, match=line):
        parse_components(text)


def test_the_nearest_component_of_a_wanted_kind_within_the_radius():
    index = ComponentIndex(parse_components("A,manhole,roads,31.0,121.0\nB,hydrant,water,31.00005,121.0\n"))
    assert index.nearest(31.0001, 121.0, 15, ("manhole",)).code == "A"       # 11 m
    assert index.nearest(31.0001, 121.0, 15, ("manhole", "hydrant")).code == "B"
    assert index.nearest(31.0002, 121.0, 15, ("manhole",)) is None          # 22 m
    assert index.nearest(31.0, 121.0, 15, ()) is None


def test_points_sharing_an_incident_cell_are_within_the_merge_radius():
    rng = random.Random(7)
    for _ in range(20000):
        lat, lon, r = rng.uniform(-60, 60), rng.uniform(-179, 179), rng.choice([5, 10, 30, 100])
        d = r * 0.7
        lat2, lon2 = lat + rng.uniform(-d, d) / M_PER_DEG, lon + rng.uniform(-d, d) / M_PER_DEG
        if incident_cell(lat, lon, r) == incident_cell(lat2, lon2, r):
            assert distance_m(lat, lon, lat2, lon2) <= r


def test_points_within_the_radius_always_share_a_lock_cell():
    rng = random.Random(11)
    for _ in range(20000):
        lat, lon, r = rng.uniform(-60, 60), rng.uniform(-179, 179), rng.choice([5, 30, 100])
        lat2 = lat + rng.uniform(-r, r) / M_PER_DEG
        lon2 = lon + rng.uniform(-2 * r, 2 * r) / M_PER_DEG
        if distance_m(lat, lon, lat2, lon2) <= r:
            assert set(lock_cells(lat, lon, r)) & set(lock_cells(lat2, lon2, r))
    assert len(lock_cells(31.23, 121.47, 30)) <= 6


CENTRE = Actor("sue", "supervisor")
DEPT = Actor("ola", "operator", "sanitation")
OTHER_DEPT = Actor("oto", "operator", "water affairs")


@pytest.mark.parametrize("action,who,allowed", [
    ("register", CENTRE, True), ("register", DEPT, False), ("verify", CENTRE, True), ("verify", DEPT, False),
    ("close", CENTRE, True), ("reopen", CENTRE, True), ("reject", DEPT, False),
    ("dispatch", DEPT, True), ("handle", DEPT, True), ("dispatch", OTHER_DEPT, False),
    ("handle", CENTRE, False), ("dispatch", Actor("root", "admin"), True),
])
def test_who_may_take_which_action(action, who, allowed):
    assert may_take(who, action, "sanitation") is allowed


def test_every_action_leads_from_and_to_known_statuses_and_reopen_goes_back_to_dispatched():
    for rule in ACTIONS.values():
        assert set(rule.sources) <= set(STATUSES) and rule.target in STATUSES
    assert ACTIONS["reopen"].sources == ("handled", "verified") and ACTIONS["reopen"].target == "dispatched"


def test_the_handler_is_not_offered_verification():
    admin = Actor("root", "admin")
    assert "verify" in allowed_actions(admin, "handled", "sanitation", handled_by="ola")
    assert "verify" not in allowed_actions(admin, "handled", "sanitation", handled_by="root")
