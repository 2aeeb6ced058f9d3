"""Score attendance results against the simulator's ground truth: verdict confusion matrix and
per-flag precision and recall."""
from __future__ import annotations

from dataclasses import dataclass, field

VERDICTS = ("present", "late", "left_early", "absent", "suspect")
FLAGS = ("mock_location", "impossible_speed", "static_device", "idle", "signal_gap", "clock_skew")


@dataclass
class Score:
    confusion: dict[tuple[str, str], int] = field(default_factory=dict)   # (truth, judged) -> count
    flag_counts: dict[str, list[int]] = field(default_factory=dict)       # flag -> [tp, fp, fn]
    misses: list[dict] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.confusion.values())

    @property
    def accuracy(self) -> float:
        right = sum(n for (a, b), n in self.confusion.items() if a == b)
        return right / self.total if self.total else 0.0

    def precision(self, flag: str) -> float:
        tp, fp, _ = self.flag_counts.get(flag, [0, 0, 0])
        return tp / (tp + fp) if tp + fp else 1.0

    def recall(self, flag: str) -> float:
        tp, _, fn = self.flag_counts.get(flag, [0, 0, 0])
        return tp / (tp + fn) if tp + fn else 1.0


def score(pairs: list[tuple[dict, str, tuple[str, ...]]]) -> Score:
    """`pairs`: (truth record, judged verdict, judged flags) per shift."""
    s = Score(flag_counts={f: [0, 0, 0] for f in FLAGS})
    for truth, verdict, flags in pairs:
        key = (truth["verdict"], verdict)
        s.confusion[key] = s.confusion.get(key, 0) + 1
        want, got = set(truth["flags"]), set(flags)
        for f in FLAGS:
            c = s.flag_counts[f]
            c[0] += f in want and f in got
            c[1] += f in got and f not in want
            c[2] += f in want and f not in got
        if verdict != truth["verdict"] or want != got:
            s.misses.append({**truth, "judged": verdict, "judged_flags": sorted(got)})
    return s


def format_score(s: Score) -> str:
    width = max(len(v) for v in VERDICTS) + 2
    lines = [f"verdicts: {s.accuracy:.2%} of {s.total} shifts right (rows: truth, columns: judged)",
             " " * width + "".join(v.rjust(width) for v in VERDICTS)]
    for a in VERDICTS:
        lines.append(a.ljust(width) + "".join(str(s.confusion.get((a, b), 0)).rjust(width) for b in VERDICTS))
    lines.append("")
    lines.append(f"{'flag':<18}{'tp':>6}{'fp':>6}{'fn':>6}{'precision':>11}{'recall':>9}")
    for f in FLAGS:
        tp, fp, fn = s.flag_counts.get(f, [0, 0, 0])
        lines.append(f"{f:<18}{tp:>6}{fp:>6}{fn:>6}{s.precision(f):>11.3f}{s.recall(f):>9.3f}")
    return "\n".join(lines)
