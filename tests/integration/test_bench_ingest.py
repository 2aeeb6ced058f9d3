"""`gridwatch bench ingest` end to end on a tiny load: both pipelines run, every heartbeat is
committed and counted, and the table carries the figures the README quotes."""
from __future__ import annotations

import re
import time

import psycopg

from cloud.ingest import store
from cloud.ingest.batch import build_rows
from gridwatch.bench import bare
from gridwatch.cli import main
from tests.support.batches import mixed_batch


def test_bare_and_full_pipelines_send_postgresql_the_same_bytes(db_url):
    """The bare one with datetimes, the full one with ints in timestamptz's binary form."""
    now_ms = int(time.time() * 1000)
    batch = mixed_batch(now_ms)
    with psycopg.connect(db_url) as conn, conn.cursor() as cur:
        full = store.encode(cur, build_rows(batch, now_ms, 86_400_000))["heartbeat"]
        reference = store.binary_image(cur, lambda cp: bare.write_rows(cp, batch))
    assert len(full) > 321 * 17 * 4
    assert full == reference


def test_bench_ingest_measures_both_pipelines_without_loss(capsys):
    assert main(["bench", "ingest", "--single", "200", "--arrays", "1000", "--workers", "1",
                 "--repeat", "1", "--devices", "10", "--publishers", "1", "--threads"]) == 0
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
        # receipts: the full ingest's cursors caught up with everything it committed; bare sends none
        assert (float(r[-2]) >= 0) if r[0] == "full" else r[-2] == "-", r
    assert re.search(r"full/bare array50 x1: \d+\.\d\d", table)
    assert "bare acks: each" in out
    # --threads: the slots' CPU by the names their threads gave themselves
    threads = {m[0]: dict((n, float(us)) for n, us in re.findall(r"(gw-[a-z]+) (\d+\.\d)", m[1]))
               for m in re.findall(r"^slot threads, (\w+ single) x1, us/hb: (.*)$", table, re.M)}
    assert {"gw-mqtt", "gw-decode", "gw-store"} <= set(threads["full single"]), threads
    assert {"gw-mqtt", "gw-bare"} <= set(threads["bare single"]), threads


def test_bench_ingest_can_give_the_bare_pipeline_the_full_ingests_batched_acks(capsys):
    # More messages than ReceiveMaximum (2,000): without its acks the broker stalls the slot.
    assert main(["bench", "ingest", "--single", "3000", "--arrays", "0", "--workers", "1", "--pipelines", "bare",
                 "--bare-acks", "batch", "--repeat", "1", "--devices", "10", "--publishers", "1"]) == 0
    out = capsys.readouterr().out
    assert "bare acks: batch" in out
    row = next(line.split() for line in out[out.index("pipeline shape"):].splitlines() if line.startswith("bare "))
    assert float(row[5]) > 0 and row[-1] == "0", row


def test_bench_rows_prints_every_per_heartbeat_cost(capsys):
    assert main(["bench", "rows", "--heartbeats", "2000"]) == 0
    out = capsys.readouterr().out
    for label in ("decode, pydantic models", "decode, msgspec fast path", "rows of a batch", "rows of a batch, singles",
                  "bare pipeline's rows, singles", "COPY image",
                  "bare pipeline, rows and image", "COPY into heartbeat", "receipt walk, two slots, interleaved",
                  "receipt walk, two slots, a message at a time"):
        line = next(x for x in out.splitlines() if x.startswith(label))
        assert float(re.search(r"(\d+\.\d+) us/", line).group(1)) > 0, line
