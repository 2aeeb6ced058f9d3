"""`gridwatch bench ingest`: benchmarks that print numbers (targets live here, not in unit tests)."""
from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="run a benchmark and print its figures")
    s = p.add_subparsers(dest="bench", required=True)
    i = s.add_parser("ingest", help="end-to-end ingest throughput, latency and loss vs a bare paho-to-COPY pipeline")
    i.add_argument("--single", type=int, default=100_000, help="single-message heartbeats per case")
    i.add_argument("--arrays", type=int, default=1_000_000, help="heartbeats per case sent as 50-heartbeat arrays")
    i.add_argument("--workers", default="1,2", help="comma-separated ingest slot counts to try")
    i.add_argument("--devices", type=int, default=1000, help="simulated devices")
    i.add_argument("--pipelines", default="bare,full", help="bare and/or full")
    i.add_argument("--publishers", type=int, default=2, help="publisher processes")
    i.add_argument("--repeat", type=int, default=6,
                   help="runs of each case, in pairs bare-full then full-bare (a shared box drifts: medians count)")
    i.add_argument("--threads", action="store_true",
                   help="also print the slot processes' CPU per heartbeat by thread (MQTT, decode, store, receipts)")
    i.add_argument("--switch-interval-ms", type=float, default=None,
                   help="GIL switch interval of the slot processes (default: the setting, 0.5)")
    i.add_argument("--bare-acks", choices=("each", "batch"), default="each",
                   help="how the bare pipeline acks: each message with paho's ack() (default), or a batch's "
                        "PUBACKs as one packet, as the full ingest does")
    i.set_defaults(handler=_ingest)
    r = s.add_parser("rows", help="per-heartbeat costs without a broker: decode, rows, COPY image, PostgreSQL per row")
    r.add_argument("--heartbeats", type=int, default=200_000, help="heartbeats, in 50-heartbeat arrays")
    r.set_defaults(handler=_rows)
    c = s.add_parser("cases", help="detection published to its case visible in the API: latency percentiles")
    c.add_argument("--rate", type=float, default=1000.0, help="detections per minute")
    c.add_argument("--seconds", type=float, default=60.0, help="how long to publish at that rate")
    c.add_argument("--workers", type=int, default=2, help="ingest slot processes")
    c.set_defaults(handler=_cases)
    g = s.add_parser("geo", help="point-in-grid points/s of GridIndex against a synthetic city")
    g.add_argument("--grids", type=int, default=30_000, help="adjacent grid polygons in the city")
    g.add_argument("--points", type=int, default=1_000_000, help="random points to locate")
    g.add_argument("--near-points", type=int, default=100_000, help="points for the near() (20 m radius) figure")
    g.add_argument("--segment-m", type=float, default=None,
                   help="densify grid edges to a vertex every so many metres (default: 5-vertex quadrilaterals)")
    g.set_defaults(handler=_geo)
    a = s.add_parser("attendance", help="attendance verdict accuracy vs simulated ground truth, and judging speed")
    a.add_argument("--shifts", type=int, default=1300, help="simulated worker shifts for the accuracy run")
    a.add_argument("--workers", default="500,1000,2500,5000", help="comma-separated fleet sizes for the speed run")
    a.add_argument("--seed", type=int, default=1)
    a.add_argument("--noise", choices=("city", "harsh"), default="city",
                   help="GPS noise of the accuracy run: city (3-15 m, 1.5%% multipath) or harsh (5-25 m, 5%%)")
    a.set_defaults(handler=_attendance)
    cam = s.add_parser("camera", help="camera detection quality per kind on synthetic scenes, and frames/s per core")
    cam.add_argument("--seeds", type=int, default=2, help="scene seeds (each: every kind once, plus a clean scene)")
    cam.add_argument("--events", type=int, default=3, help="events per kind and seed")
    cam.add_argument("--clean-s", type=float, default=1800.0, help="seconds of clean street per seed")
    cam.set_defaults(handler=_camera)


def _ingest(args: argparse.Namespace) -> int:
    import platform
    import os

    from gridwatch.bench.ingest import format_run, format_table, prepare_database, run_case
    from gridwatch.bench.stack import bench_stack

    results = []
    with bench_stack() as (settings, relay_url, broker_pid):
        if args.switch_interval_ms is not None:
            settings = settings.model_copy(update={"ingest_switch_interval_ms": args.switch_interval_ms})
        prepare_database(settings.database_url)
        for workers in [int(w) for w in args.workers.split(",")]:
            for shape, n in (("single", args.single), ("array50", args.arrays)):
                if n <= 0:
                    continue
                pipelines = args.pipelines.split(",")
                for i in range(args.repeat):
                    # Pairs in turn bare-full and full-bare: whatever a run leaves behind for the
                    # next one (the broker's and PostgreSQL's state, the box's drift) falls on
                    # either pipeline alike.
                    for pipeline in pipelines if i % 2 == 0 else pipelines[::-1]:
                        r = run_case(settings, relay_url, pipeline, shape, workers, n, args.devices, args.publishers,
                                     broker_pid, threads=args.threads, bare_batch_acks=args.bare_acks == "batch")
                        results.append(r)
                        print(format_run(r), flush=True)
        # Printed before the services stop: stopping a broker that held a million messages is slow.
        print()
        print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
              f"broker, database, publisher and ingest on this one machine; bare acks: {args.bare_acks}")
        print(format_table(results), flush=True)
    return 0


def _rows(args: argparse.Namespace) -> int:
    import os
    import platform

    from gridwatch.bench.ingest import prepare_database
    from gridwatch.bench.rows import run
    from gridwatch.localstack import throwaway_database

    with throwaway_database("gw_bench") as dsn:
        prepare_database(dsn)
        print("\n".join(run(dsn, args.heartbeats)))
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; one thread")
    return 0


def _geo(args: argparse.Namespace) -> int:
    import os
    import platform

    from gridwatch.bench.geo import report, run

    print(report(run(args.grids, args.points, near_points=args.near_points, segment_m=args.segment_m)))
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; one thread")
    return 0


def _cases(args: argparse.Namespace) -> int:
    from gridwatch.bench.cases import run

    result = run(int(args.rate * args.seconds / 60), args.rate, args.workers)
    print(result.line())
    return 0


def _attendance(args: argparse.Namespace) -> int:
    from gridwatch.bench.attendance import main

    return main(args.shifts, [int(w) for w in args.workers.split(",")], args.seed, args.noise)


def _camera(args: argparse.Namespace) -> int:
    from gridwatch.bench.camera import main

    return main(args.seeds, args.events, args.clean_s)
