"""Against the simulator's ground truth: 200+ noisy shifts of every behaviour, verdicts >= 99% right,
each flag with precision and recall >= 0.95 (the benchmark runs the same on >= 1,000)."""
from __future__ import annotations

from gridwatch.bench.attendance import accuracy
from gwsim.evaluate import FLAGS, format_score
from gwsim.plans import BEHAVIOURS


def test_verdicts_and_flags_match_the_ground_truth_of_simulated_shifts():
    score = accuracy(224, seed=11)
    report = format_score(score) + f"\nmisses: {score.misses[:5]}"
    assert score.total == 224
    assert {truth for truth, _ in score.confusion} == {e.verdict for e in BEHAVIOURS.values()}
    assert score.accuracy >= 0.99, report
    for flag in FLAGS:
        assert sum(score.flag_counts[flag][::2]) > 0, f"no {flag} case simulated"
        assert score.precision(flag) >= 0.95 and score.recall(flag) >= 0.95, report
