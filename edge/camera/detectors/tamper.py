"""`camera_tamper`: the view no longer matches the reference of the scene.

Against the long-term background (the empty street, which stops learning
while tampering is suspected):
- covered: almost no contrast left, or the picture went dark;
- defocused: edge energy below `blur_ratio` of the reference's;
- turned away: the picture no longer correlates with the reference.
Correlation and edge ratios ignore lighting drift. Traffic and crowds lower
the correlation a little, far from the threshold.
"""
from __future__ import annotations

import cv2
import numpy as np

from ..config import CameraConfig
from .base import FrameContext, Observation


def edge_energy(gray: np.ndarray) -> float:
    g = gray.astype(np.float32)
    return float(np.abs(cv2.Sobel(g, cv2.CV_32F, 1, 0, ksize=3)).mean() + np.abs(cv2.Sobel(g, cv2.CV_32F, 0, 1, ksize=3)).mean())


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    x, y = a.astype(np.float32).ravel(), b.astype(np.float32).ravel()
    x, y = x - x.mean(), y - y.mean()
    d = float(np.sqrt((x * x).sum() * (y * y).sum()))
    return float((x * y).sum() / d) if d > 0 else 0.0


class TamperDetector:
    kinds = ("camera_tamper",)

    def __init__(self, config: CameraConfig, scale: float) -> None:
        self.params = config.tamper
        self.since: float | None = None
        self.how: str | None = None
        self._ref_edges: tuple[float, float] = (-1e9, 0.0)

    def check(self, gray: np.ndarray, ref_gray: np.ndarray, t: float) -> str | None:
        """What looks wrong with this frame, or None."""
        if t - self._ref_edges[0] > 5.0:
            self._ref_edges = (t, edge_energy(ref_gray))
        ref_e = self._ref_edges[1]
        if float(gray.std()) < 8 or float(gray.mean()) < 0.3 * float(ref_gray.mean()):
            return "covered"
        e = edge_energy(gray)
        if ref_e > 0 and e < 0.25 * ref_e:
            return "covered"
        if ref_e > 0 and e < self.params.blur_ratio * ref_e:
            return "defocused"
        if correlation(gray, ref_gray) < self.params.min_similarity:
            return "turned"
        return None

    def suspect(self, gray: np.ndarray, ref_gray: np.ndarray, t: float) -> bool:
        """Updates the state; True while something looks wrong (other detectors then pause)."""
        how = self.check(gray, ref_gray, t)
        if how is None:
            self.since, self.how = None, None
            return False
        if self.since is None:
            self.since = t
        self.how = how
        return True

    def observe(self, ctx: FrameContext) -> list[Observation]:
        if self.since is None or ctx.t - self.since < self.params.dwell_s:
            return []
        return [Observation("camera_tamper", "tamper", 0.9, (0.0, 0.0, 1.0, 1.0), None)]
