"""`gridwatch bench ingest` end to end on a tiny load: both pipelines run, every heartbeat is
committed and counted, and the table carries the figures the README quotes."""
from __future__ import annotations

import re

from gridwatch.cli import main


def test_bench_ingest_measures_both_pipelines_without_loss(capsys):
    assert main(["bench", "ingest", "--single", "200", "--arrays", "1000", "--workers", "1",
                 "--repeat", "1", "--devices", "10", "--publishers", "1"]) == 0
    out = capsys.readouterr().out
    table = out[out.index("pipeline shape"):]
    rows = [line.split() for line in table.splitlines()[1:] if re.match(r"(bare|full) ", line)]
    assert {(r[0], r[1]) for r in rows} == {("bare", "single"), ("full", "single"),
                                           ("bare", "array50"), ("full", "array50")}
    for r in rows:
        assert float(r[5]) > 0, r  # hb/s
        # CPU per heartbeat of the slots and their backends: everything runs here, so both are
        # read (a tiny load may round to 0.00; '-' would mean the accounting failed)
        assert float(r[10]) >= 0 and float(r[11]) >= 0, r
        assert r[-1] == "0", f"lost heartbeats: {r}"
    assert re.search(r"full/bare array50 x1: \d+\.\d\d", table)


def test_bench_rows_prints_every_per_heartbeat_cost(capsys):
    assert main(["bench", "rows", "--heartbeats", "2000"]) == 0
    out = capsys.readouterr().out
    for label in ("decode, pydantic models", "decode, msgspec fast path", "rows of a batch", "COPY image",
                  "bare pipeline, rows and image", "COPY into heartbeat"):
        line = next(x for x in out.splitlines() if x.startswith(label))
        assert float(re.search(r"(\d+\.\d+) us/", line).group(1)) > 0, line
