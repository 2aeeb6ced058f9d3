"""Detection quality on synthetic scenes, short run (the full table: `gridwatch bench camera`).

Each kind once on a street with traffic, lighting drift and noise must be
found; ninety seconds of clean street must give no false report; a person who
stops and stands on the walkway for a minute is not an obstruction.
"""
from __future__ import annotations

import pytest

from gridwatch.bench.camera import run_scene
from gwsim.scenes import clean_scene, kind_scene, score_reports
from gwsim.scenes.layout import PERSON_H_NEAR
from gwsim.scenes.scene import KINDS
from gwsim.scenes.world import Walker


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_is_found_once_with_its_box_and_no_other_report(kind):
    scene = kind_scene(kind, seed=21, n_events=1, lead_s=8, event_s=32, gap_s=8)
    run = run_scene(scene)
    scores = score_reports(scene.truth, run.reports, run.video_s, KINDS)
    assert scores[kind].recall >= 0.9, run.reports
    assert sum(s.false + s.repeats for s in scores.values()) == 0, run.reports
    starts = [r for r in run.reports if r.phase == "start"]
    ends = [r for r in run.reports if r.phase == "end"]
    assert {r.track for r in starts} == {r.track for r in ends}        # every track ended


def test_ninety_seconds_of_clean_street_give_no_false_report():
    run = run_scene(clean_scene(seed=22, duration_s=90))
    assert [r for r in run.reports if r.phase == "start"] == []


def test_a_person_standing_still_on_the_walkway_for_a_minute_is_not_an_obstruction():
    scene = clean_scene(seed=23, duration_s=80, peds_per_min=0, cars_per_min=0)
    scene.traffic.walkers.append(Walker(-40.0, 520.0, PERSON_H_NEAR, 60.0, (110, 110, 110), (90, 120, 170),
                                        stop_x=250.0, stand_s=60.0))
    run = run_scene(scene)
    assert [r for r in run.reports if r.phase == "start"] == []
