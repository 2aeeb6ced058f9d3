"""Synthetic street scenes for the camera gateway: frames plus ground truth.

`layout` fixes the street (bands, zones); `world` renders a background with
lighting drift, noise, passing pedestrians, cars and people who stop and stand;
`anomalies` paints each anomaly kind; `scene` schedules them on a timeline and
yields `(t, frame)` with the ground-truth events; `score` matches what a
detector reported against that truth. Only numpy and OpenCV: no edge import.
"""
from .layout import FRAME_H, FRAME_W, camera_layout
from .scene import GroundTruth, Scene, SceneSpec, clean_scene, kind_scene, write_video
from .score import KindScore, Report, score_reports

__all__ = ["FRAME_H", "FRAME_W", "camera_layout", "GroundTruth", "Scene", "SceneSpec", "clean_scene",
           "kind_scene", "write_video", "KindScore", "Report", "score_reports"]
