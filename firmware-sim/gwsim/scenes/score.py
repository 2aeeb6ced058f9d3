"""Match what a detector reported against a scene's ground truth.

A ground-truth event counts as detected when a `start` report of its kind
comes between its start and its end plus `grace_s`, with a box that overlaps
the event's box. A `start` report that matches no event is a false report;
further starts matching an event already detected are repeats (the thing was
reported as gone and new again). Only starts count: updates and ends belong
to a track that was already counted.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .anomalies import GroundTruth


@dataclass(frozen=True)
class Report:
    kind: str
    t: float                                   # scene seconds
    box: tuple[float, float, float, float]     # normalised x, y, w, h
    phase: str = "start"
    track: str | None = None


@dataclass
class KindScore:
    kind: str
    events: int = 0
    detected: int = 0
    false: int = 0
    repeats: int = 0
    hours: float = 0.0                          # camera-hours watched for this kind
    latency_sum: float = 0.0
    false_at: list[float] = field(default_factory=list)   # scene times of the false reports

    @property
    def recall(self) -> float:
        return self.detected / self.events if self.events else 1.0

    @property
    def false_per_hour(self) -> float:
        return self.false / self.hours if self.hours else 0.0

    @property
    def latency(self) -> float | None:
        return self.latency_sum / self.detected if self.detected else None

    def add(self, other: "KindScore") -> None:
        for name in ("events", "detected", "false", "repeats", "hours", "latency_sum", "false_at"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


def overlaps(a: tuple[float, ...], b: tuple[float, ...], margin: float = 0.03) -> bool:
    return (a[0] < b[0] + b[2] + margin and b[0] < a[0] + a[2] + margin
            and a[1] < b[1] + b[3] + margin and b[1] < a[1] + a[3] + margin)


def score_reports(truth: list[GroundTruth], reports: list[Report], duration_s: float,
                  kinds: tuple[str, ...], grace_s: float = 15.0) -> dict[str, KindScore]:
    """Per kind in `kinds`: events, detected, false reports, repeats, over `duration_s` of video."""
    scores = {k: KindScore(k, hours=duration_s / 3600) for k in kinds}
    found: dict[int, bool] = {}
    for r in sorted((r for r in reports if r.phase == "start"), key=lambda r: r.t):
        score = scores.setdefault(r.kind, KindScore(r.kind, hours=duration_s / 3600))
        hit = next((i for i, g in enumerate(truth) if g.kind == r.kind and g.start - 2 <= r.t <= g.end + grace_s
                    and overlaps(r.box, g.box)), None)
        if hit is None:
            score.false += 1
            score.false_at.append(round(r.t, 1))
        elif hit in found:
            score.repeats += 1
        else:
            found[hit] = True
            score.detected += 1
            score.latency_sum += max(0.0, r.t - truth[hit].start)
    for g in truth:
        scores.setdefault(g.kind, KindScore(g.kind, hours=duration_s / 3600)).events += 1
    return scores
