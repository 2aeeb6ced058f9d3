"""`fire`: flame-coloured pixels that flicker, in one place, for `dwell_s`.

Colour alone finds yellow cars and orange signs; flames also change from
frame to frame (flicker) and stay where they are (a car's blob travels).
Per pixel, slow averages of "flame colour" and "flame colour and changing"
must both hold; a blob of them that stays near where it appeared for the dwell
is a fire. Growth raises the score.
"""
from __future__ import annotations

import cv2
import numpy as np

from ..config import CameraConfig
from .base import Candidates, FrameContext, Observation, blobs

TAU_S = 2.5


def flame_colour(small: np.ndarray) -> np.ndarray:
    b, g, r = cv2.split(small)
    # Bright and strongly saturated towards red-yellow: skin (R-B ~ 0.4 R) stays out.
    return (r >= 190) & (r >= g) & (g > b) & (cv2.subtract(r, b) >= 0.55 * r)


class FireDetector:
    kinds = ("fire",)

    def __init__(self, config: CameraConfig, scale: float) -> None:
        self.params = config.fire
        self.min_area = max(3, int(self.params.min_area_px / scale ** 2))
        self.colour: np.ndarray | None = None
        self.flicker: np.ndarray | None = None
        self.candidates = Candidates("fire")

    def observe(self, ctx: FrameContext) -> list[Observation]:
        col = flame_colour(ctx.small)
        if self.colour is None:
            self.colour = np.zeros(col.shape, np.float32)
            self.flicker = np.zeros(col.shape, np.float32)
        a = min(1.0, ctx.dt / TAU_S)
        self.colour += (col - self.colour) * a
        # Changed since the last detection frame, not MOG2 motion: a newly placed orange sign
        # is MOG2 foreground for seconds, but does not change from frame to frame.
        self.flicker += ((col & ctx.changed) - self.flicker) * a
        hot = (self.colour > 0.5) & (self.flicker > 0.12)
        out = []
        found = blobs(hot, self.min_area)
        for blob, cand in zip(found, self.candidates.match(found, ctx.t)):
            cand.history.append(blob.area)
            if cand.centre_moved() > max(blob.w, blob.h):
                cand.first, cand.anchor = ctx.t, (blob.x + blob.w / 2, blob.y + blob.h / 2)   # travelling: not a fire
                cand.history = [blob.area]
                continue
            if ctx.t - cand.first < self.params.dwell_s:
                continue
            growth = blob.area / max(1, min(cand.history))
            score = min(1.0, 0.6 + 0.2 * float(self.flicker[blob.mask].mean()) / 0.5 + 0.1 * min(2.0, growth - 1))
            out.append(Observation("fire", cand.key, round(score, 3), ctx.norm_box(blob.x, blob.y, blob.w, blob.h),
                                   _zone(ctx, blob)))
        return out


def _zone(ctx: FrameContext, blob) -> str | None:
    for zm in ctx.zones:
        if zm.mask[blob.y + blob.h // 2:blob.y + blob.h, blob.x:blob.x + blob.w].any():
            return zm.zone.name
    return None
