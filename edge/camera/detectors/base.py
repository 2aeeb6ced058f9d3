"""The one interface every detector plugs into, and what it sees each frame."""
from __future__ import annotations

from dataclasses import dataclass, field
from collections.abc import Callable
from typing import Protocol

import cv2
import numpy as np

from ..config import Zone


@dataclass(frozen=True, slots=True)
class Observation:
    """A confirmed thing seen in this frame. `key` is stable while the detector follows it."""

    kind: str
    key: str
    score: float
    box: tuple[float, float, float, float]   # normalised x, y, w, h
    zone: str | None = None


LAG_S = 2.0      # "still" means unchanged against the frame this much older


def still_share(ctx: "FrameContext", mask: np.ndarray, change: int = 10) -> float:
    """Share of `mask` that changed over the last LAG_S seconds (0: perfectly still)."""
    if ctx.lag_gray is None or not mask.any():
        return 1.0
    return float((cv2.absdiff(ctx.gray, ctx.lag_gray)[mask] > change).mean())


@dataclass(slots=True)
class ZoneMask:
    zone: Zone
    mask: np.ndarray            # bool, work size
    area: int


@dataclass
class FrameContext:
    """One detection frame, with the shared stage's results, at work size unless named `frame`."""

    t: float                    # video seconds
    dt: float                   # seconds since the previous detection frame
    frame: np.ndarray           # full-size BGR (for checks on a region, and snapshots)
    small: np.ndarray           # BGR, work size
    gray: np.ndarray            # uint8
    moving: np.ndarray          # bool: MOG2 foreground
    changed: np.ndarray         # bool: differs from the previous detection frame
    diff: np.ndarray            # bool: differs from the long-term background
    age: np.ndarray             # float32: seconds each pixel has differed
    ref: np.ndarray             # float32 BGR long-term background
    ref_gray: np.ndarray        # uint8
    zones: list[ZoneMask]
    claimed: np.ndarray = field(default=None)   # bool: pixels an earlier detector explained (still objects)
    prev_gray: np.ndarray | None = None         # uint8, the previous detection frame
    lag_gray: np.ndarray | None = None          # uint8, the detection frame LAG_S seconds ago
    forget: Callable[[np.ndarray], None] = lambda mask: None   # make the background take the picture under mask

    def __post_init__(self) -> None:
        if self.claimed is None:
            self.claimed = np.zeros(self.gray.shape, bool)

    def norm_box(self, x: int, y: int, w: int, h: int) -> tuple[float, float, float, float]:
        H, W = self.gray.shape
        return (round(x / W, 4), round(y / H, 4), round(min(w, W - x) / W, 4), round(min(h, H - y) / H, 4))

    def zone_at(self, x: int, y: int, w: int, h: int, kind: str) -> ZoneMask | None:
        """The zone watching `kind` that holds most of the box's bottom half (where a thing stands)."""
        best, most = None, 0
        for zm in self.zones:
            if kind in zm.zone.watched:
                n = int(zm.mask[y + h // 2:y + h, x:x + w].sum())
                if n > most:
                    best, most = zm, n
        return best


class Detector(Protocol):
    """A plug-in: looks at each detection frame, returns what it is sure of now."""

    kinds: tuple[str, ...]

    def observe(self, ctx: FrameContext) -> list[Observation]: ...


@dataclass
class Blob:
    x: int
    y: int
    w: int
    h: int
    area: int
    mask: np.ndarray           # bool, work size


def blobs(mask: np.ndarray, min_area: int) -> list[Blob]:
    """Connected components of `mask` of at least `min_area` pixels."""
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    out = []
    for i in range(1, n):
        x, y, w, h, area = (int(v) for v in stats[i])
        if area >= min_area:
            out.append(Blob(x, y, w, h, area, labels == i))
    return out


def iou(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    ix = max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union else 0.0


@dataclass
class Candidate:
    key: str
    box: tuple[int, int, int, int]
    first: float
    last: float
    anchor: tuple[float, float]                      # centre when first seen
    history: list[float] = field(default_factory=list)

    def centre_moved(self) -> float:
        cx, cy = self.box[0] + self.box[2] / 2, self.box[1] + self.box[3] / 2
        return ((cx - self.anchor[0]) ** 2 + (cy - self.anchor[1]) ** 2) ** 0.5


class Candidates:
    """Follows blobs from frame to frame by overlap, so a thing keeps its key."""

    def __init__(self, prefix: str, forget_s: float = 2.0) -> None:
        self.prefix = prefix
        self.forget_s = forget_s
        self.items: list[Candidate] = []
        self._n = 0

    def match(self, found: list[Blob], t: float) -> list[Candidate]:
        out = []
        free = list(self.items)
        for b in found:
            box = (b.x, b.y, b.w, b.h)
            best = max(free, key=lambda c: iou(c.box, box), default=None)
            if best is not None and iou(best.box, box) > 0.2:
                free.remove(best)
                best.box, best.last = box, t
            else:
                self._n += 1
                best = Candidate(f"{self.prefix}{self._n}", box, t, t, (b.x + b.w / 2, b.y + b.h / 2))
                self.items.append(best)
            out.append(best)
        self.items = [c for c in self.items if t - c.last <= self.forget_s]
        return out
