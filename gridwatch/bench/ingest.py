"""`gridwatch bench ingest`: heartbeats/s and latency from publish to commit.

Runs, on one private broker with the project's configuration and a fresh
database, the full ingest and a bare paho-to-COPY pipeline, each with N slot
processes, for single heartbeats and for 50-heartbeat arrays. Latency is
estimated from the committed row count sampled every 50 ms against each
message's publish time, so it has 50 ms resolution.

The count comes from the slots' own Prometheus counters (multiprocess mode, as
`gridwatch cloud` runs them; incremented after each commit), not from the
database: a `count(*)` every 50 ms scanned the growing table and by the end of
a million-row case took most of a core from the PostgreSQL it was measuring.
The database is counted once at the end: that figure decides `lost`.
"""
from __future__ import annotations

import math
import multiprocessing as mp
import os
import tempfile
import time
import uuid
from dataclasses import dataclass
from importlib import resources

import numpy as np
import psycopg
from prometheus_client import CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector

from gridwatch.settings import Settings

from .cpu import box_cpu_seconds, cpu_seconds, thread_cpu_seconds
from .publisher import build_messages, publish, publish_process_main


@dataclass
class Result:
    pipeline: str
    shape: str
    workers: int
    heartbeats: int
    stored: int
    seconds: float
    p50_ms: float
    p99_ms: float
    # CPU per committed heartbeat, in microseconds, of the slot processes, of their
    # PostgreSQL backends, and of the whole machine (broker, publishers and all; None: not
    # visible from here)
    slot_cpu_us: float | None = None
    db_cpu_us: float | None = None
    box_cpu_us: float | None = None
    # ... and of the broker and of the publisher processes (the load, not the pipeline: a run
    # that costs the box more per heartbeat shows where)
    broker_cpu_us: float | None = None
    pub_cpu_us: float | None = None
    # ... and of each named thread of the slot processes (`--threads`), summed over the slots
    thread_cpu_us: dict[str, float] | None = None
    # Full ingest: seconds from the last commit until every device's receipt cursor covered all
    # it sent (inf: not within RECEIPT_WAIT_S; None: a bare run, which sends no receipts)
    receipts_s: float | None = None

    @property
    def rate(self) -> float:
        return self.stored / self.seconds if self.seconds else 0.0

    @property
    def lost(self) -> int:
        return self.heartbeats - self.stored


def _count(conn: psycopg.Connection, table: str, prefix: str) -> int:
    return conn.execute(f"SELECT count(*) FROM {table} WHERE dev LIKE %s", (prefix + "%",)).fetchone()[0]


# The counter each pipeline increments after a commit, and its label filter.
COMMITTED = {"full": ("gridwatch_ingest_rows_total", {"table": "heartbeat"}),
             "bare": ("gridwatch_bench_bare_rows_total", {})}


def _committed(metrics_dir: str, pipeline: str) -> int:
    name, labels = COMMITTED[pipeline]
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=metrics_dir)
    return int(sum(s.value for m in registry.collect() for s in m.samples
                   if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())))


def _start_consumers(settings: Settings, pipeline: str, workers: int,
                     bare_batch_acks: bool = False) -> list[mp.Process]:
    from cloud.ingest.slot import slot_process_main

    from .bare import bare_process_main

    ctx = mp.get_context("spawn")
    procs = []
    for slot in range(1, workers + 1):
        if pipeline == "full":
            p = ctx.Process(target=slot_process_main, args=(settings.model_dump_json(), slot, 0, True))
        else:
            p = ctx.Process(target=bare_process_main, args=(settings.model_dump_json(), slot, bare_batch_acks))
        p.start()
        procs.append(p)
    return procs


def _warm_up(settings: Settings, relay_url: str, table: str, workers: int) -> None:
    """Publish until every slot has stored something: all are subscribed."""
    tag = uuid.uuid4().hex[:6]
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            msgs = build_messages(int(time.time() * 1000), 4 * workers, 1, 4 * workers, f"w{tag}")
            publish(relay_url, msgs, [0.0] * len(msgs))
            time.sleep(0.5)
            if _count(conn, table, f"bw{tag}") >= 4 * workers:
                return
    raise TimeoutError("ingest slots did not start consuming within 60 s")


def _backend_pids(dsn: str) -> list[int]:
    """The bench database's client backends but this one's: the slots' connections."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        return [pid for (pid,) in conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND backend_type = 'client backend' AND pid <> pg_backend_pid()")]


def _per_heartbeat_us(before: float | None, after: float | None, heartbeats: int) -> float | None:
    if before is None or after is None or not heartbeats:
        return None
    return (after - before) / heartbeats * 1e6


def _per_thread_us(before: dict[str, float] | None, after: dict[str, float] | None,
                   heartbeats: int) -> dict[str, float] | None:
    if before is None or after is None or not heartbeats:
        return None
    return {name: (cpu - before.get(name, 0.0)) / heartbeats * 1e6 for name, cpu in after.items()}


RECEIPT_WAIT_S = 60.0


def _receipts_caught_up(dsn: str, prefix: str, heartbeats: int, since: float) -> float:
    """Seconds after `since` (time.time()) when the case's devices' receipt cursors cover every
    heartbeat (each device's seqs run from 0, so the cursors' seq + 1 sum to the heartbeats)."""
    deadline = time.monotonic() + RECEIPT_WAIT_S
    with psycopg.connect(dsn, autocommit=True) as conn:
        while time.monotonic() < deadline:
            covered = conn.execute("SELECT coalesce(sum(seq + 1), 0) FROM receipt_cursor WHERE dev LIKE %s",
                                   (prefix + "%",)).fetchone()[0]
            if covered >= heartbeats:
                return max(0.0, time.time() - since)
            time.sleep(0.05)
    return math.inf


def _latencies(sent_at: np.ndarray, per_msg: np.ndarray, samples: list[tuple[float, int]]) -> np.ndarray:
    """For each heartbeat in publish order, first sample time whose count covers it, minus its publish time."""
    cum = np.cumsum(per_msg)
    times = np.array([t for t, _ in samples])
    counts = np.array([c for _, c in samples])
    idx = np.searchsorted(counts, cum, side="left")
    idx = np.minimum(idx, len(times) - 1)
    return (times[idx] - sent_at) * 1000.0


def _publish_parallel(relay_url: str, msgs: list, publishers: int):
    """Split by device (each device's order kept) over publisher processes; all start together."""
    ctx = mp.get_context("spawn")
    groups = [[m for m in msgs if hash(m[0]) % publishers == g] for g in range(publishers)]
    out = ctx.Queue()
    start_at = time.time() + 3.0  # after the processes have imported paho
    procs = [ctx.Process(target=publish_process_main, args=(relay_url, grp, start_at, out, i)) for i, grp in enumerate(groups)]
    for p in procs:
        p.start()
    return groups, procs, out, start_at


def _collect_sent(groups, procs, out) -> tuple[np.ndarray, np.ndarray]:
    results = dict(out.get(timeout=600) for _ in procs)
    for p in procs:
        p.join(30)
    sent_at = np.concatenate([np.array(results[i]) for i in range(len(groups))])
    per_msg = np.concatenate([np.array([m[2] for m in g], dtype=np.int64) for g in groups])
    order = np.argsort(sent_at, kind="stable")
    return sent_at[order], per_msg[order]


def _fresh_start(dsn: str) -> None:
    """Every case starts from the same database state: empty tables (an index grown by the
    previous case slows the next) and a checkpoint behind it (one falling inside a case
    makes it write full pages)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("TRUNCATE heartbeat, bench_bare, receipt_cursor")
        try:
            conn.execute("CHECKPOINT")
        except psycopg.errors.InsufficientPrivilege:
            pass  # not a superuser: the figures are noisier, not wrong


def run_case(settings: Settings, relay_url: str, pipeline: str, shape: str, workers: int,
             heartbeats: int, devices: int, publishers: int = 2, broker_pid: int | None = None,
             threads: bool = False, bare_batch_acks: bool = False) -> Result:
    table = "heartbeat" if pipeline == "full" else "bench_bare"
    tag = uuid.uuid4().hex[:6]
    settings = settings.model_copy(update={"ingest_share_group": f"bench{tag}",
                                           "ingest_client_prefix": f"bench{tag}{pipeline}"})
    _fresh_start(settings.database_url)
    with tempfile.TemporaryDirectory(prefix="gw-bench-metrics-") as metrics_dir:
        previous = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir  # inherited by the spawned slots
        try:
            procs = _start_consumers(settings, pipeline, workers, bare_batch_acks)
        finally:
            if previous is None:
                del os.environ["PROMETHEUS_MULTIPROC_DIR"]
            else:
                os.environ["PROMETHEUS_MULTIPROC_DIR"] = previous
        try:
            _warm_up(settings, relay_url, table, workers)
            base = _committed(metrics_dir, pipeline)
            per = 50 if shape == "array50" else 1
            msgs = build_messages(int(time.time() * 1000) - 3_600_000, heartbeats, per, devices, tag)
            samples: list[tuple[float, int]] = []
            slot_pids, db_pids = [p.pid for p in procs], _backend_pids(settings.database_url)
            groups, pubs, out, t0 = _publish_parallel(relay_url, msgs, publishers)
            time.sleep(max(0.0, t0 - time.time()))
            broker_pids, pub_pids = [broker_pid] if broker_pid else [], [p.pid for p in pubs]
            slot_cpu0, db_cpu0, box_cpu0 = cpu_seconds(slot_pids), cpu_seconds(db_pids), box_cpu_seconds()
            broker_cpu0, pub_cpu0 = cpu_seconds(broker_pids) if broker_pids else None, cpu_seconds(pub_pids)
            threads0 = thread_cpu_seconds(slot_pids) if threads else None
            threads1 = None
            seen, last_change = 0, time.monotonic()
            slot_cpu1 = db_cpu1 = box_cpu1 = broker_cpu1 = None
            pub_cpu1 = pub_cpu0
            while seen < heartbeats and time.monotonic() - last_change < 20:
                time.sleep(0.05)
                n = _committed(metrics_dir, pipeline) - base
                samples.append((time.time(), n))
                if n != seen:
                    seen, last_change = n, time.monotonic()
                    slot_cpu1, db_cpu1, box_cpu1 = cpu_seconds(slot_pids), cpu_seconds(db_pids), box_cpu_seconds()
                    broker_cpu1 = cpu_seconds(broker_pids) if broker_pids else None
                    threads1 = thread_cpu_seconds(slot_pids) if threads else None
                # Publishers exit once the broker has everything: their last reading before that
                # (at most 50 ms short) stands.
                pub_cpu1 = cpu_seconds(pub_pids) or pub_cpu1
            sent_at, per_msg = _collect_sent(groups, pubs, out)
            with psycopg.connect(settings.database_url, autocommit=True) as conn:
                stored = _count(conn, table, f"b{tag}")
            done_at = next(t for t, c in samples if c == seen)
            # Before the slots stop: their last receipt round would cover everything at once.
            receipts_s = (_receipts_caught_up(settings.database_url, f"b{tag}-", heartbeats, done_at)
                          if pipeline == "full" and seen >= heartbeats else None)
            lat = _latencies(sent_at, per_msg, samples) if seen >= heartbeats else np.array([float("nan")])
            return Result(pipeline, shape, workers, heartbeats, stored, done_at - t0,
                          float(np.percentile(lat, 50)), float(np.percentile(lat, 99)),
                          _per_heartbeat_us(slot_cpu0, slot_cpu1, seen), _per_heartbeat_us(db_cpu0, db_cpu1, seen),
                          _per_heartbeat_us(box_cpu0, box_cpu1, seen), _per_heartbeat_us(broker_cpu0, broker_cpu1, seen),
                          _per_heartbeat_us(pub_cpu0, pub_cpu1, heartbeats),
                          _per_thread_us(threads0, threads1, seen), receipts_s)
        finally:
            for p in procs:
                p.terminate()
            for p in procs:
                p.join(30)
                if p.is_alive():  # a slot that ignores SIGTERM must not outlive its database
                    p.kill()
                    p.join()


def prepare_database(dsn: str) -> None:
    from cloud.db.migrate import migrate

    migrate(dsn)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(resources.files("gridwatch.bench").joinpath("bare.sql").read_text())


def _us(values: list[float | None]) -> str:
    known = [v for v in values if v is not None]
    return f"{np.median(known):.2f}" if known else "-"


def _secs(values: list[float | None]) -> str:
    """Median receipt catch-up of a case's runs: '>60' when one never caught up, '-' without receipts."""
    known = [v for v in values if v is not None]
    if any(math.isinf(v) for v in known):
        return f">{RECEIPT_WAIT_S:.0f}"
    return f"{np.median(known):.1f}" if known else "-"


def format_run(r: Result) -> str:
    return (f"{r.pipeline:<8} {r.shape:<8} {r.workers:>7} {r.heartbeats:>10} {r.rate:>9.0f} "
            f"{r.p50_ms:>7.0f} {r.p99_ms:>7.0f} {_us([r.slot_cpu_us]):>8} {_us([r.db_cpu_us]):>8} "
            f"{_us([r.box_cpu_us]):>8} {_us([r.broker_cpu_us]):>8} {_us([r.pub_cpu_us]):>8} "
            f"{_secs([r.receipts_s]):>7} {r.lost:>5}")


def format_table(results: list[Result]) -> str:
    """Median of each case's runs with their range, and the median CPU per heartbeat (us) of the
    slot processes, of their database backends, of the whole box, of the broker and of the
    publishers; `rcpt s`, the median time from the last commit until the receipt cursors cover
    everything (full only); with `--threads`, the median CPU per heartbeat of each named slot thread; the
    full/bare ratio is the median of the ratios of runs made back to back (the box's speed
    drifts by ~20% over minutes)."""
    cases: dict[tuple[str, str, int], list[Result]] = {}
    for r in results:
        cases.setdefault((r.pipeline, r.shape, r.workers), []).append(r)
    lines = [f"{'pipeline':<8} {'shape':<8} {'workers':>7} {'heartbeats':>10} {'runs':>4} {'hb/s':>9} "
             f"{'min':>9} {'max':>9} {'p50 ms':>7} {'p99 ms':>7} {'slot us':>8} {'db us':>8} {'box us':>8} "
             f"{'mqtt us':>8} {'pub us':>8} {'rcpt s':>7} {'lost':>5}"]
    for (pipeline, shape, workers), runs in cases.items():
        rates = [r.rate for r in runs]
        lines.append(f"{pipeline:<8} {shape:<8} {workers:>7} {runs[0].heartbeats:>10} {len(runs):>4} "
                     f"{np.median(rates):>9.0f} {min(rates):>9.0f} {max(rates):>9.0f} "
                     f"{np.median([r.p50_ms for r in runs]):>7.0f} {np.median([r.p99_ms for r in runs]):>7.0f} "
                     f"{_us([r.slot_cpu_us for r in runs]):>8} {_us([r.db_cpu_us for r in runs]):>8} "
                     f"{_us([r.box_cpu_us for r in runs]):>8} {_us([r.broker_cpu_us for r in runs]):>8} "
                     f"{_us([r.pub_cpu_us for r in runs]):>8} {_secs([r.receipts_s for r in runs]):>7} "
                     f"{sum(r.lost for r in runs):>5}")
    for (pipeline, shape, workers), runs in cases.items():
        per_thread = [r.thread_cpu_us for r in runs if r.thread_cpu_us]
        if per_thread:
            names = {n for t in per_thread for n in t}
            medians = {n: float(np.median([t.get(n, 0.0) for t in per_thread])) for n in names}
            lines.append(f"slot threads, {pipeline} {shape} x{workers}, us/hb: " + ", ".join(
                f"{n} {us:.1f}" for n, us in sorted(medians.items(), key=lambda kv: -kv[1])))
    for (pipeline, shape, workers), runs in cases.items():
        bare = cases.get(("bare", shape, workers))
        if pipeline == "full" and bare:
            ratios = [f.rate / b.rate for f, b in zip(runs, bare) if b.rate]
            if ratios:
                lines.append(f"full/bare {shape} x{workers}: {np.median(ratios):.2f} "
                             f"(runs: {', '.join(f'{x:.2f}' for x in ratios)})")
    return "\n".join(lines)
