"""Arrival times carried as timestamptz's binary value are the microsecond datetime would give."""
from __future__ import annotations

import random
from datetime import datetime, timezone

from cloud.ingest import pg_time


def test_from_unix_rounds_as_datetime_does():
    rng = random.Random(7)
    # 1796609201.9290555 came out 1 us late from round(seconds * 1e6) (a failed ingest test)
    times = [1796609201.9290555] + [1_796_000_000 + rng.random() * 1e6 for _ in range(20_000)]
    for t in times:
        assert pg_time.to_datetime(pg_time.from_unix(t)) == datetime.fromtimestamp(t, timezone.utc), t
