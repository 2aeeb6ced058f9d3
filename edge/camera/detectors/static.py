"""`obstruction` and `garbage`: a new thing that stays still in a watched zone past its dwell.

Evidence is the long-term background's `age` (how long a pixel has differed
from the empty street). People who stop and stand also make still blobs, so
each candidate keeps the share of its pixels that change from one detection
frame to the next: a standing person sways, shifts weight, gestures, so that
share stays well above zero, while a sign, stall or bag is still but for sensor
noise. The median over the last few seconds is used, so passers-by who
occlude an object now and then do not make it a person. This residual-motion
test needs no model and costs one masked mean per candidate; a person
detector (HOG) would cost 30-150 ms per check here and miss people under
its 64x128 window (FIELD-NOTES), so it is not used for this decision.
"""
from __future__ import annotations

import statistics

import cv2
import numpy as np

from ..config import CameraConfig
from .base import Candidates, FrameContext, Observation, blobs

KINDS = ("obstruction", "garbage")
MIN_AGE_S = 3.0          # a pixel joins a candidate once it has differed this long
WINDOW = 50              # detection frames of residual motion considered (10 s at 5 fps)


class StillObjectDetector:
    kinds = KINDS

    def __init__(self, config: CameraConfig, scale: float) -> None:
        self.params = config.static
        self.min_area = max(4, int(self.params.min_area_px / scale ** 2))
        self.scale = scale
        self.candidates = Candidates("obj")
        self._kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))

    def observe(self, ctx: FrameContext) -> list[Observation]:
        watched = [zm for zm in ctx.zones if set(zm.zone.watched) & set(KINDS)]
        if not watched:
            return []
        area = np.zeros_like(ctx.diff)
        for zm in watched:
            area |= zm.mask
        mature = cv2.morphologyEx(((ctx.age >= MIN_AGE_S) & area).astype(np.uint8), cv2.MORPH_CLOSE, self._kernel)
        found = blobs(mature > 0, self.min_area)
        out = []
        for blob, cand in zip(found, self.candidates.match(found, ctx.t)):
            cand.history = (cand.history + [float(ctx.changed[blob.mask].mean())])[-WINDOW:]
            if len(cand.history) < 5 or statistics.median(cand.history) > self.params.still_motion:
                continue       # too new to judge, or a person
            ctx.claimed |= blob.mask
            obs = self._judge(ctx, blob, cand.key)
            if obs is not None:
                out.append(obs)
        return out

    def _judge(self, ctx: FrameContext, blob, key: str) -> Observation | None:
        box = (blob.x, blob.y, blob.w, blob.h)
        zm = ctx.zone_at(*box, "obstruction") or ctx.zone_at(*box, "garbage")
        if zm is None:
            return None
        watched = zm.zone.watched
        kind = self._pick(zm, blob) if set(KINDS) <= set(watched) else next(k for k in KINDS if k in watched)
        age = float(np.median(ctx.age[blob.mask]))
        if age < zm.zone.dwell_s:
            return None
        score = min(1.0, 0.6 + 0.4 * age / (3 * zm.zone.dwell_s))
        return Observation(kind, key, round(score, 3), ctx.norm_box(*box), zm.zone.name)

    def _pick(self, zm, blob) -> str:
        """A zone watching both: low and flat is refuse, tall is a sign or stall."""
        return "garbage" if blob.h * self.scale < 0.5 * zm.zone.person_height_px else "obstruction"
