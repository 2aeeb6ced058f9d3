"""`waterlogging`: part of a road zone turned reflective and smooth, for the zone's dwell.

Standing water mirrors the sky: the dry road's texture (asphalt grain, lane
marks) disappears and the surface gets brighter. Per pixel: differs from the
empty road, brighter, and with local texture below half the dry road's; passing
cars (moving) neither add nor remove evidence. A patch covering `min_cover`
of the zone for `dwell_s` is reported.
"""
from __future__ import annotations

import cv2
import numpy as np

from ..config import CameraConfig
from .base import Candidates, FrameContext, Observation, blobs

TAU_S = 3.0


def texture(gray: np.ndarray) -> np.ndarray:
    """Local mean gradient magnitude."""
    g = gray.astype(np.float32)
    mag = np.abs(cv2.Sobel(g, cv2.CV_32F, 1, 0, ksize=3)) + np.abs(cv2.Sobel(g, cv2.CV_32F, 0, 1, ksize=3))
    return cv2.blur(mag, (5, 5))


class WaterDetector:
    kinds = ("waterlogging",)

    def __init__(self, config: CameraConfig, scale: float) -> None:
        self.params = config.water
        self.wet: np.ndarray | None = None
        self.candidates = Candidates("water", forget_s=10.0)
        self._ref_texture: np.ndarray | None = None
        self._ref_at = -1e9

    def observe(self, ctx: FrameContext) -> list[Observation]:
        zones = [zm for zm in ctx.zones if "waterlogging" in zm.zone.watched]
        if not zones:
            return []
        if ctx.t - self._ref_at > 10.0:                   # the background changes slowly
            self._ref_texture, self._ref_at = texture(ctx.ref_gray), ctx.t
        smooth = texture(ctx.gray) < 0.5 * self._ref_texture
        brighter = ctx.gray.astype(np.int16) > ctx.ref_gray.astype(np.int16) + 12
        evidence = (ctx.diff & smooth & brighter).astype(np.float32)
        if self.wet is None:
            self.wet = np.zeros(evidence.shape, np.float32)
        a = min(1.0, ctx.dt / TAU_S)
        still = ~ctx.moving
        self.wet[still] += (evidence[still] - self.wet[still]) * a
        out = []
        for zm in zones:
            found = blobs((self.wet > 0.5) & zm.mask, max(4, int(self.params.min_cover * zm.area)))
            for blob, cand in zip(found, self.candidates.match(found, ctx.t)):
                if ctx.t - cand.first < zm.zone.dwell_s:
                    continue
                score = min(1.0, 0.6 + 0.4 * blob.area / zm.area / (3 * self.params.min_cover))
                out.append(Observation("waterlogging", cand.key, round(score, 3),
                                       ctx.norm_box(blob.x, blob.y, blob.w, blob.h), zm.zone.name))
        return out
