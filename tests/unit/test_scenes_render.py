"""Synthetic scenes: deterministic frames, ground truth per kind, a video OpenCV reads back."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from gwsim.scenes import FRAME_H, FRAME_W, Report, clean_scene, kind_scene, score_reports, write_video
from gwsim.scenes.scene import KINDS


def test_same_seed_same_frames_and_frames_are_768x576_bgr():
    a = [f for _, f in kind_scene("fire", 3, 1, lead_s=2, event_s=2, gap_s=0).frames()]
    b = [f for _, f in kind_scene("fire", 3, 1, lead_s=2, event_s=2, gap_s=0).frames()]
    assert a[0].shape == (FRAME_H, FRAME_W, 3) and a[0].dtype == np.uint8
    assert all(np.array_equal(x, y) for x, y in zip(a, b))


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_has_truth_inside_the_frame_and_changes_the_picture_where_it_says(kind):
    scene = kind_scene(kind, 5, 1, lead_s=2, event_s=16, gap_s=0, peds_per_min=0, cars_per_min=0, noise_sigma=0,
                       drift=0)
    [truth] = scene.truth
    x, y, w, h = truth.box
    assert truth.kind == kind and 0 <= x and 0 <= y and x + w <= 1.0001 and y + h <= 1.0001
    before = scene.render(0.0).astype(np.int16)
    during = scene.render(truth.start + 8).astype(np.int16)
    changed = np.abs(during - before).max(axis=2) > 30
    inside = changed[int(y * FRAME_H):int((y + h) * FRAME_H), int(x * FRAME_W):int((x + w) * FRAME_W)].sum()
    assert inside > 0.5 * changed.sum() > 0


def test_scoring_counts_found_false_and_repeated_reports():
    scene = kind_scene("garbage", 1, 2, lead_s=10, event_s=30, gap_s=20)
    t1, t2 = scene.truth
    reports = [Report("garbage", t1.start + 20, t1.box), Report("garbage", t1.start + 25, t1.box),
               Report("garbage", t2.start + 20, (0.0, 0.0, 0.05, 0.05)), Report("garbage", t1.start + 21, t1.box, "update")]
    s = score_reports(scene.truth, reports, scene.spec.duration_s, ("garbage",))["garbage"]
    assert (s.events, s.detected, s.repeats, s.false) == (2, 1, 1, 1)
    assert s.recall == 0.5 and s.latency == 20


def test_video_written_as_mjpg_avi_reads_back_at_its_rate(tmp_path):
    path = write_video(clean_scene(2, 2.0, fps=5), tmp_path / "street.avi")
    cap = cv2.VideoCapture(str(path))
    try:
        assert cap.get(cv2.CAP_PROP_FPS) == 5
        n = 0
        while cap.grab():
            n += 1
        assert n == 10
    finally:
        cap.release()
