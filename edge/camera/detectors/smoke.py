"""`smoke`: a grey, rising veil through which the street still shows, for `dwell_s`.

Per pixel: different from the empty street, unsaturated (so not flames).
Per blob, the translucency test: the scene behind is still visible (its
pattern correlates with the background's) but with less contrast; a grey coat
or car hides the pattern instead. To start, the blob must also move (a bag
does not); once reported, the veil alone keeps it alive (a plume settles and
MOG2 absorbs it). A veil lying wholly inside a zone watched for water is left
to the water detector: standing water is a translucent veil too, smoke rises
out of the road.
"""
from __future__ import annotations

import cv2
import numpy as np

from ..config import CameraConfig
from .base import Candidates, FrameContext, Observation, blobs
from .fire import _zone

TAU_S = 2.0


def veil(gray: np.ndarray, ref: np.ndarray) -> tuple[float, float]:
    """(correlation of the pattern with the background's, contrast relative to it) inside a region."""
    g, r = gray.astype(np.float32).ravel(), ref.astype(np.float32).ravel()
    g, r = g - g.mean(), r - r.mean()
    sg, sr = float(np.sqrt((g * g).mean())), float(np.sqrt((r * r).mean()))
    if sr < 1.0:
        return 0.0, 1.0
    return float((g * r).mean() / max(sg * sr, 1e-6)), sg / sr


class SmokeDetector:
    kinds = ("smoke",)

    def __init__(self, config: CameraConfig, scale: float) -> None:
        self.params = config.smoke
        self.min_area = max(4, int(self.params.min_area_px / scale ** 2))
        self.grey: np.ndarray | None = None
        self.motion: np.ndarray | None = None
        self.candidates = Candidates("smoke")
        # Wide closing: a plume is patchy, and its patches are one thing.
        self._kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (11, 11))
        self.confirmed: set[str] = set()

    def _on_road(self, ctx: FrameContext, blob) -> bool:
        """Lies flat inside a zone watched for water: that detector judges it (smoke rises out of a road)."""
        inside = sum(int((blob.mask & zm.mask).sum()) for zm in ctx.zones if "waterlogging" in zm.zone.watched)
        return inside >= 0.9 * blob.area

    def observe(self, ctx: FrameContext) -> list[Observation]:
        b, g, r = cv2.split(ctx.small)
        sat = cv2.subtract(cv2.max(cv2.max(b, g), r), cv2.min(cv2.min(b, g), r))
        grey = ctx.diff & (sat < 40) & ~ctx.claimed
        if self.grey is None:
            self.grey = np.zeros(grey.shape, np.float32)
            self.motion = np.zeros(grey.shape, np.float32)
        a = min(1.0, ctx.dt / TAU_S)
        self.grey += (grey - self.grey) * a
        self.motion += ((ctx.moving | ctx.changed) - self.motion) * a
        region = cv2.morphologyEx((self.grey > 0.5).astype(np.uint8), cv2.MORPH_CLOSE, self._kernel) > 0
        found = blobs(region, self.min_area)
        out = []
        for blob, cand in zip(found, self.candidates.match(found, ctx.t)):
            sl = (slice(blob.y, blob.y + blob.h), slice(blob.x, blob.x + blob.w))
            corr, contrast = veil(ctx.gray[sl][blob.mask[sl]], ctx.ref_gray[sl][blob.mask[sl]])
            confirmed = cand.key in self.confirmed
            moving = confirmed or float(self.motion[blob.mask].mean()) > 0.08
            if not (corr > 0.3 and contrast < 0.85 and moving) or self._on_road(ctx, blob):
                cand.first = ctx.t                   # the dwell counts only while it looks like smoke
                continue
            if ctx.t - cand.first < self.params.dwell_s:
                continue
            self.confirmed = {c.key for c in self.candidates.items} & (self.confirmed | {cand.key})
            score = min(1.0, 0.5 + 0.3 * corr + 0.2 * (1 - contrast))
            out.append(Observation("smoke", cand.key, round(score, 3), ctx.norm_box(blob.x, blob.y, blob.w, blob.h),
                                   _zone(ctx, blob)))
        return out
