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


def test_camera_and_sensor_sections_refuse_unknown_kinds_and_keys():
    for bad in ({"cameras": {"kinds": ["unicorn"]}}, {"cameras": {"count": 2, "fps": 9}},
                {"sensors": {"types": ["thermometer"]}}, {"sensors": {"cuont": 1}}):
        with pytest.raises(ValidationError):
            Scenario.model_validate({**BASE, **bad})


def test_cameras_and_sensors_state_their_injected_anomalies_in_truth_json(tmp_path):
    scenario = Scenario.model_validate({**BASE, "cameras": {"count": 3, "seconds": 50, "kinds": ["garbage", "fire"]},
                                        "sensors": {"count": 2, "seconds": 400, "types": ["pipe_pressure"]}})
    sim = prepare(scenario)
    doc = json.loads(write_files(tmp_path, sim)["truth"].read_text("utf-8"))["devices"]
    assert [c["kind"] for c in doc["cameras"]] == ["garbage", "fire", "garbage"]
    cam = doc["cameras"][0]
    assert (cam["end_ms"] - cam["start_ms"], cam["start_ms"] - doc["start_ms"]) == (30_000, 10_000)
    assert [s["sensor"] for s in doc["sensors"]] == ["pipe_pressure"] * 2
    assert len({(c["lat"], c["lon"]) for c in doc["cameras"] + doc["sensors"]}) == 5   # every device its own place
    # The observations end by now: the ingest refuses what lies in the future.
    assert doc["start_ms"] + 400_000 <= datetime.now(timezone.utc).timestamp() * 1000 + 1000


def test_a_simulated_camera_watches_the_scene_layout_with_dwell_times_its_anomaly_outlasts():
    from gwsim.devices import camera_plans, sensor_plans

    cam = camera_plans(1, 40.0, ["garbage"], seed=1, centre=(31.23, 121.47))[0]
    config = cam.config()
    assert {z.name for z in config.zones} == {"walkway", "no-dumping", "roadway"}
    assert all(z.dwell_s <= (cam.event[1] - cam.event[0]) / 2 for z in config.zones)
    sensor = sensor_plans(1, 100.0, ["pipe_pressure"], centre=(31.23, 121.47))[0].config().sensors[0]
    assert sensor.rules[0].below == 1.0 and sensor.driver.steps == [(25.0, 50.0, 0.4)]
