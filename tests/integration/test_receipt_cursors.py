"""Receipt cursors in the real database: whichever way a walk takes (the one-statement step for
a run that continues its cursor, or the full walk), the cursor is the top of the contiguous
committed seqs, `pending` holds exactly what waits above a hole, and a receipt is claimed
exactly when one is due."""
from __future__ import annotations

import random
import re

import psycopg

from cloud.ingest import store
from tests.integration.ingest_helpers import new_dev


def _pending(text: str) -> set[int]:
    out: set[int] = set()
    for lo, hi in re.findall(r"\[(-?\d+),(-?\d+)\)", text):
        out |= set(range(int(lo), int(hi)))
    return out


def _cursor(have: set[int]) -> int:
    top = -1
    while top + 1 in have:
        top += 1
    return top


def _walk_in_random_order(db_url: str, seed: int, disorder: float) -> tuple[int, int]:
    """300 walks by two slots over 12 devices; returns (keys that continued their cursor, others)."""
    rnd = random.Random(seed)
    keys = [(new_dev(), "hb") for _ in range(12)]
    have: dict[tuple[str, str], set[int]] = {k: set() for k in keys}
    ever_claimed: set[tuple[str, str]] = set()
    continuing = other = 0
    with psycopg.connect(db_url) as one, psycopg.connect(db_url) as two, \
            psycopg.connect(db_url, autocommit=True) as reader:
        for _ in range(300):
            seqs = {}
            for key in rnd.sample(keys, rnd.randint(1, len(keys))):
                cursor = _cursor(have[key])
                if rnd.random() >= disorder:  # the usual: a run just above the cursor
                    seqs[key] = list(range(cursor + 1, cursor + 1 + rnd.randint(1, 4)))
                else:  # repeats, holes, runs above a hole, duplicates
                    seqs[key] = [rnd.randint(max(0, cursor - 3), cursor + 6) for _ in range(rnd.randint(1, 5))]
                on_time = (min(seqs[key]) == cursor + 1 and not {v for v in have[key] if v > cursor}
                           and len(set(seqs[key])) == max(seqs[key]) - min(seqs[key]) + 1)
                continuing, other = continuing + on_time, other + (not on_time)
            always = rnd.random() < 0.5  # a claim interval of 0 s: every move is due; of 1 h: only a first one
            claimed, unclaimed = store.record_seqs(rnd.choice((one, two)), seqs, claim_s=0.0 if always else 3600.0)
            before = {key: _cursor(have[key]) for key in seqs}
            for key, values in seqs.items():
                have[key] |= set(values)
            rows = {(d, k): (seq, pending) for d, k, seq, pending in reader.execute(
                "SELECT dev, kind, seq, pending::text FROM receipt_cursor WHERE dev = ANY(%s)",
                ([d for d, _ in keys],)).fetchall()}
            told = {(a.dev, a.kind): a.seq for a in claimed + unclaimed}
            assert len(told) == len(claimed) + len(unclaimed), "a key told twice"
            for key, values in seqs.items():
                seq, pending = rows[key]
                assert seq == _cursor(have[key]), (key, sorted(have[key]), seq)
                assert _pending(pending) == {v for v in have[key] if v > seq}, (key, pending)
                moved = seq > before[key]
                repeat = before[key] >= 0 and min(values) <= before[key]
                assert (key in told) == (moved or repeat), (key, values, before[key], seq)
                if key in told:
                    assert told[key] == seq
                    due = always or key not in ever_claimed
                    assert (key in {(a.dev, a.kind) for a in claimed}) == due, (key, always, due)
                    if due:
                        ever_claimed.add(key)
    return continuing, other


def test_walks_in_order_agree_with_counting_seqs_one_by_one(db_url):
    continuing, other = _walk_in_random_order(db_url, seed=11, disorder=0.1)
    assert continuing > 500 and other > 50  # both ways were taken


def test_walks_out_of_order_agree_with_counting_seqs_one_by_one(db_url):
    continuing, other = _walk_in_random_order(db_url, seed=12, disorder=0.6)
    assert other > 500
