"""`crowd`: more people in a zone than its limit, for longer than its dwell.

People are counted from the shared stage without a person model: every
foreground pixel in the zone (moving now, or differing from the empty street
because they stand), minus still objects another detector claimed, grouped
into blobs; a blob counts as its area over the area one person covers at the
zone's `person_height_px`, and at least one. Overlapping people undercount,
which keeps the estimate conservative.
"""
from __future__ import annotations

from collections import deque

import cv2
import numpy as np

from ..config import CameraConfig
from .base import FrameContext, Observation, blobs, still_share

STILL = 0.05            # changed share over LAG_S below which a blob is a thing
PERSON_FILL = 0.25       # silhouette pixels / height^2 of an upright person (measured on the scenes)


class CrowdDetector:
    kinds = ("crowd",)

    def __init__(self, config: CameraConfig, scale: float) -> None:
        self.scale = scale
        self.history: dict[str, deque[tuple[float, int]]] = {}
        self.active: set[str] = set()
        self._kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))

    def count(self, ctx: FrameContext, zm) -> tuple[int, tuple[int, int, int, int] | None]:
        person = PERSON_FILL * (zm.zone.person_height_px / self.scale) ** 2
        fg = (ctx.moving | ctx.diff) & zm.mask & ~ctx.claimed
        fg = cv2.morphologyEx(fg.astype(np.uint8), cv2.MORPH_CLOSE, self._kernel) > 0
        people = blobs(fg, max(3, int(0.35 * person)))
        if not people:
            return 0, None
        # A blob that has not changed for seconds is a thing, not people (people mill and sway):
        # it counts as one at most, however big, until the still-object detector claims it.
        n = sum(max(1, round(b.area / person)) if still_share(ctx, b.mask) >= STILL else 1 for b in people)
        x0, y0 = min(b.x for b in people), min(b.y for b in people)
        x1, y1 = max(b.x + b.w for b in people), max(b.y + b.h for b in people)
        return n, (x0, y0, x1 - x0, y1 - y0)

    def observe(self, ctx: FrameContext) -> list[Observation]:
        out = []
        for zm in ctx.zones:
            if "crowd" not in zm.zone.watched:
                continue
            n, box = self.count(ctx, zm)
            hist = self.history.setdefault(zm.zone.name, deque())
            hist.append((ctx.t, n))
            while hist and hist[0][0] < ctx.t - zm.zone.crowd_dwell_s:
                hist.popleft()
            over = sum(c > zm.zone.crowd_limit for _, c in hist) / len(hist)
            spanned = ctx.t - hist[0][0] >= zm.zone.crowd_dwell_s * 0.9
            # Hysteresis: 80% of the dwell over the limit to start, 40% to go on.
            name = zm.zone.name
            if not (spanned and over >= (0.4 if name in self.active else 0.8)):
                self.active.discard(name)
                continue
            self.active.add(name)
            if box is not None and n > zm.zone.crowd_limit:
                limit = max(1, zm.zone.crowd_limit)
                score = min(1.0, 0.5 + 0.5 * (n - limit) / limit)
                out.append(Observation("crowd", f"crowd-{zm.zone.name}", round(score, 3), ctx.norm_box(*box),
                                       zm.zone.name))
        return out
