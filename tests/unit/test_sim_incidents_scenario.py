"""`[incidents]` in a `gridwatch sim` scenario: validated strictly, generated with the cloud's
case rules, their truth written next to the shifts'."""
from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta, timezone

import pytest
from pydantic import ValidationError

from gridwatch.settings import load_settings
from gwsim.caserules import city_centre, cloud_rules, street_at
from gwsim.run import prepare, write_files
from gwsim.scenario import Scenario

BASE = dict(seed=3, day=date(2026, 11, 18), tz="UTC", start=time(8, 0), end=time(12, 0), workers=1,
            city={"rows": 2, "cols": 2, "cell_m": 1000})


def test_a_typo_in_the_incidents_section_is_refused():
    with pytest.raises(ValidationError):
        Scenario.model_validate({**BASE, "incidents": {"cuont": 5}})
    with pytest.raises(ValidationError):
        Scenario.model_validate({**BASE, "incidents": {"count": 0}})


def test_incidents_need_the_case_rules_and_their_truth_lands_in_truth_json(tmp_path):
    scenario = Scenario.model_validate({**BASE, "incidents": {"count": 23}})
    with pytest.raises(ValueError, match="case rules"):
        prepare(scenario)
    sim = prepare(scenario, lambda city: cloud_rules(city, load_settings()))
    paths = write_files(tmp_path, sim)
    doc = json.loads(paths["truth"].read_text("utf-8"))
    assert len(doc["shifts"]) == 1 and len(doc["incidents"]["incidents"]) == 23
    fire = next(i for i in doc["incidents"]["incidents"] if i["kind"] == "fire")
    opened = datetime.fromisoformat(fire["start"])
    assert opened >= datetime(2026, 11, 18, 8, 0, tzinfo=timezone.utc)
    assert datetime.fromisoformat(fire["due_at"]) - opened == timedelta(hours=1)   # round the clock
    manhole = next(i for i in doc["incidents"]["incidents"] if i["source"] == "report" and i["kind"] == "manhole")
    # A 2 km city holds the 1.25 km lattice of one block: the street's office owns the reported manhole.
    assert manhole["department"] == f"{street_at(sim.city, manhole['lat'], manhole['lon'])} office"
    assert {d["dev"] for d in doc["incidents"]["devices"]} >= {"cam-1", "s-gas-1"}


def test_a_point_lies_in_the_street_of_its_grid_and_outside_the_city_in_none():
    sim = prepare(Scenario.model_validate(BASE))
    lat, lon = city_centre(sim.city)
    assert street_at(sim.city, lat - 0.002, lon) == "D01-S01"    # ~220 m south of the centre: first row
    assert street_at(sim.city, lat + 0.002, lon) == "D01-S02"
    assert street_at(sim.city, lat + 0.5, lon) is None
