"""Sensor thresholds: hysteresis, debounce, both directions; config refuses nonsense."""
from __future__ import annotations

import pytest
from pydantic import ValidationError

from edge.sensor.config import Rule, SensorConfig
from edge.sensor.rules import Threshold


def run(rule: Rule, values: list[tuple[float, float]]) -> list[tuple[float, str]]:
    th = Threshold(rule)
    return [(t, s) for t, v in values if (s := th.step(v, t))]


def test_hysteresis_holds_the_alert_between_clear_at_and_the_threshold():
    rule = Rule(level="warning", above=30.0, clear_at=25.0)
    got = run(rule, [(0, 20), (1, 31), (2, 28), (3, 26), (4, 29), (5, 24.9), (6, 29)])
    assert got == [(1, "raised"), (5, "cleared")]


def test_debounce_ignores_blips_shorter_than_it():
    rule = Rule(level="critical", above=10.0, debounce_s=3.0, clear_debounce_s=2.0)
    got = run(rule, [(0, 11), (1, 11), (2, 9), (3, 11), (4, 11), (5, 11), (6, 11), (7, 5), (8, 11), (9, 5), (10, 5),
                     (11, 5)])
    assert got == [(6, "raised"), (11, "cleared")]


def test_below_rules_mirror_above_rules():
    rule = Rule(level="warning", below=2.0, clear_at=2.5)
    assert run(rule, [(0, 3), (1, 1.9), (2, 2.2), (3, 2.6)]) == [(1, "raised"), (3, "cleared")]


@pytest.mark.parametrize("bad", [
    {"level": "warning"},
    {"level": "warning", "above": 1, "below": 0},
    {"level": "warning", "above": 10, "clear_at": 12},
    {"level": "warning", "below": 10, "clear_at": 8},
    {"level": "warning", "above": 10, "hysteresis": 2},
])
def test_rules_that_cannot_work_are_refused(bad):
    with pytest.raises(ValidationError):
        Rule.model_validate(bad)


def test_sensor_config_refuses_unknown_keys_and_needs_a_driver_type():
    good = {"sensors": [{"id": "m1", "sensor": "manhole_tilt", "unit": "deg", "driver": {"type": "sim"},
                         "rules": [{"level": "critical", "above": 15}]}]}
    assert SensorConfig.model_validate(good).sensors[0].driver.type == "sim"
    with pytest.raises(ValidationError):
        SensorConfig.model_validate({**good, "pol_s": 1})
    with pytest.raises(ValidationError):
        SensorConfig.model_validate({"sensors": [{**good["sensors"][0], "driver": {"type": "serial"}}]})
