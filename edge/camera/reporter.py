"""From per-frame observations to reports: one track per persistent thing.

A thing (detector kind + key) seen for the first time is reported `start`
with a new track id; while it stays, `update` at most every `update_s`; once
unseen for `end_after_s`, `end` with its last box. Detectors decide what is
confirmed; this only decides when to speak.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass

from .detectors.base import Observation


@dataclass(frozen=True, slots=True)
class Report:
    phase: str              # start | update | end
    track: str
    t: float                # video seconds of the frame it describes
    obs: Observation


@dataclass(slots=True)
class _Track:
    id: str
    last_obs: Observation
    last_seen: float
    last_report: float


class Reporter:
    def __init__(self, update_s: float, end_after_s: float, prefix: str) -> None:
        self.update_s = update_s
        self.end_after_s = end_after_s
        self.prefix = prefix
        self.open: dict[tuple[str, str], _Track] = {}
        self._ids = itertools.count(1)

    def step(self, t: float, observations: list[Observation]) -> list[Report]:
        out = []
        for obs in sorted(observations, key=lambda o: (o.kind, o.key) not in self.open):
            key = (obs.kind, obs.key)
            tr = self.open.get(key) or self._adopt(key, obs, t)
            if tr is None:
                tr = self.open[key] = _Track(f"{self.prefix}-{obs.kind}-{next(self._ids)}", obs, t, t)
                out.append(Report("start", tr.id, t, obs))
                continue
            if tr.last_seen == t and tr.last_obs is not obs:
                continue            # a piece of a thing already seen in this frame
            tr.last_obs, tr.last_seen = obs, t
            if t - tr.last_report >= self.update_s:
                tr.last_report = t
                out.append(Report("update", tr.id, t, obs))
        for key, tr in list(self.open.items()):
            if t - tr.last_seen >= self.end_after_s:
                del self.open[key]
                out.append(Report("end", tr.id, t, tr.last_obs))
        return out

    def _adopt(self, key: tuple[str, str], obs: Observation, t: float) -> _Track | None:
        """The open track of the same kind this new observation overlaps: the detector's
        blob split, merged or re-formed, but it is the same thing, so it keeps its track."""
        for old, tr in self.open.items():
            if old[0] == obs.kind and _overlap(tr.last_obs.box, obs.box):
                if tr.last_seen != t:
                    del self.open[old]
                    self.open[key] = tr
                return tr
        return None

    def finish(self, t: float) -> list[Report]:
        """End every open track (the source ended)."""
        out = [Report("end", tr.id, t, tr.last_obs) for tr in self.open.values()]
        self.open.clear()
        return out


def _overlap(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]
