"""Detector plug-ins. Each takes (config, scale) and answers `observe(ctx)`; `build` picks the watched ones."""
from __future__ import annotations

from ..config import CameraConfig
from .base import Detector, FrameContext, Observation
from .crowd import CrowdDetector
from .fire import FireDetector
from .smoke import SmokeDetector
from .static import StillObjectDetector
from .tamper import TamperDetector
from .water import WaterDetector

# Order matters: still objects claim their pixels before crowd and smoke look.
PLUGINS = (StillObjectDetector, CrowdDetector, FireDetector, SmokeDetector, WaterDetector)


def build(config: CameraConfig, scale: float) -> list[Detector]:
    """The zone and frame detectors this camera's configuration watches (the tamper check is separate)."""
    watched = config.watched()
    return [p(config, scale) for p in PLUGINS if set(p.kinds) & watched]


__all__ = ["Detector", "FrameContext", "Observation", "TamperDetector", "build", "PLUGINS"]
