"""`obstruction` and `garbage`: a new thing that stays still in a watched zone past its dwell.

Evidence is the long-term background's `age` (how long a pixel has differed
from the empty street). People who stop and stand also make still blobs, so
each candidate keeps the share of its pixels that change from one detection
frame two seconds earlier: a standing person sways, shifts weight, gestures,
so that share stays well above zero, while a sign, stall or bag is still but
for sensor noise. (Two seconds, not one frame: at 5 fps a slow sway moves a
fraction of a pixel between frames.) Blobs are taken over the whole frame and
placed in a zone by where they stand, so a person's moving arms and head count
even when only their feet are inside the zone.

A still blob whose outline shows in the background but not in the picture is
a ghost (what stood there when the camera started, now gone): the background
takes the current picture there instead of reporting it. The median over the last few seconds is used, so passers-by who
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
from .base import Candidates, FrameContext, Observation, blobs, still_share

KINDS = ("obstruction", "garbage")
MIN_AGE_S = 3.0          # a pixel joins a candidate once it has differed this long
WINDOW = 50              # detection frames of residual motion considered (10 s at 5 fps)


def is_ghost(gray: np.ndarray, ref_gray: np.ndarray, mask: np.ndarray) -> bool:
    """Something the background holds that has gone (a person who stood there when the camera
    started): the blob's outline has edges in the background but not in the picture now. A thing
    that arrived has its outline in the picture."""
    m = mask.astype(np.uint8)
    ring = (cv2.dilate(m, None) - cv2.erode(m, None)) > 0
    def edges(g: np.ndarray) -> float:
        g = g.astype(np.float32)
        mag = np.abs(cv2.Sobel(g, cv2.CV_32F, 1, 0)) + np.abs(cv2.Sobel(g, cv2.CV_32F, 0, 1))
        return float(mag[ring].mean())
    return edges(gray) < 0.7 * edges(ref_gray)


class StillObjectDetector:
    kinds = KINDS

    def __init__(self, config: CameraConfig, scale: float) -> None:
        self.params = config.static
        self.min_area = max(4, int(self.params.min_area_px / scale ** 2))
        self.scale = scale
        self.candidates = Candidates("obj")
        self._kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))
        self.reported: set[str] = set()

    def observe(self, ctx: FrameContext) -> list[Observation]:
        watched = [zm for zm in ctx.zones if set(zm.zone.watched) & set(KINDS)]
        if not watched:
            return []
        mature = cv2.morphologyEx((ctx.age >= MIN_AGE_S).astype(np.uint8), cv2.MORPH_CLOSE, self._kernel)
        found = blobs(mature > 0, self.min_area)
        out = []
        for blob, cand in zip(found, self.candidates.match(found, ctx.t)):
            cand.history = (cand.history + [still_share(ctx, blob.mask)])[-WINDOW:]
            reported = cand.key in self.reported
            if not reported and (len(cand.history) < 5 or statistics.median(cand.history) > self.params.still_motion):
                continue       # too new to judge, or a person (once reported, someone next to it changes nothing)
            zm = ctx.zone_at(blob.x, blob.y, blob.w, blob.h, "obstruction") or \
                ctx.zone_at(blob.x, blob.y, blob.w, blob.h, "garbage")
            if zm is None:
                continue       # still, but where nobody watches for objects (water on a road, a plume)
            if is_ghost(ctx.gray, ctx.ref_gray, blob.mask):
                ctx.forget(blob.mask)
                continue
            ctx.claimed |= blob.mask
            age = float(np.median(ctx.age[blob.mask]))
            if reported or age >= zm.zone.dwell_s:
                out.append(self._observation(ctx, blob, cand.key, zm, age))
                self.reported.add(cand.key)
        self.reported &= {c.key for c in self.candidates.items}
        return out

    def _observation(self, ctx: FrameContext, blob, key: str, zm, age: float) -> Observation:
        watched = zm.zone.watched
        kind = self._pick(zm, blob) if set(KINDS) <= set(watched) else next(k for k in KINDS if k in watched)
        score = min(1.0, 0.6 + 0.4 * age / (3 * zm.zone.dwell_s))
        return Observation(kind, key, round(score, 3), ctx.norm_box(blob.x, blob.y, blob.w, blob.h), zm.zone.name)

    def _pick(self, zm, blob) -> str:
        """A zone watching both: low and flat is refuse, tall is a sign or stall."""
        return "garbage" if blob.h * self.scale < 0.5 * zm.zone.person_height_px else "obstruction"
