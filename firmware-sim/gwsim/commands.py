"""`gridwatch sim --scenario FILE`: run a simulated fleet of grid workers' handsets."""
from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sim", help="run a simulated fleet of handsets; writes grids, roster and ground truth",
                       description="Generates a synthetic grid city, a roster and each worker's day from the "
                                   "scenario's behaviour mix, writes grids.geojson, roster.csv and truth.json, then "
                                   "plays the handsets through the real edge code over one relay MQTT link "
                                   "(or, with --tracks-only, saves the fixes as arrays). Optional scenario "
                                   "sections: [incidents] sends injected incidents' sightings through real "
                                   "outboxes; [cameras] and [sensors] run the real camera and sensor agents on "
                                   "synthetic scenes and simulated drivers. Their truth goes into truth.json.")
    p.add_argument("--scenario", required=True, type=Path, help="scenario file (.toml or .json)")
    p.add_argument("--out", type=Path, default=Path("sim-out"), help="output directory (default sim-out)")
    p.add_argument("--tracks-only", action="store_true", help="no MQTT: write tracks.npz with every fix")
    p.add_argument("--mqtt-url", help="broker URL with the relay credentials (default GRIDWATCH_MQTT_URL)")
    p.add_argument("--no-receipts", action="store_true",
                   help="end once the broker acknowledged everything (no cloud ingest is sending receipts)")
    p.add_argument("--flush-timeout", type=float, default=120.0, help="seconds to wait for the outboxes to empty")
    p.set_defaults(handler=_sim)


def _sim(args: argparse.Namespace) -> int:
    import json
    import sys

    from pydantic import ValidationError

    from gridwatch.cli import UserError
    from gridwatch.settings import load_settings

    from .run import prepare, run_mqtt, save_tracks, write_files
    from .scenario import load_scenario

    try:
        scenario = load_scenario(args.scenario)
    except (OSError, ValueError, ValidationError) as exc:
        raise UserError(f"scenario {args.scenario}: {exc}") from exc
    sim = prepare(scenario, _case_rules() if scenario.incidents else None)
    paths = write_files(args.out, sim)
    summary = {"workers": len(sim.workers), "fixes": sum(len(t) for _, t, _ in sim.workers),
               **{k: str(v) for k, v in paths.items()}}
    if sim.incidents is not None:
        summary["incidents"] = len(sim.incidents.incidents)
    if args.tracks_only:
        save_tracks(args.out / "tracks.npz", sim)
        summary["tracks"] = str(args.out / "tracks.npz")
    else:
        url = args.mqtt_url or load_settings().mqtt_url
        progress = lambda msg: print(f"gwsim: {msg}", file=sys.stderr, flush=True)  # noqa: E731
        report = run_mqtt(sim, url, flush_timeout=args.flush_timeout, receipts=not args.no_receipts,
                          progress=progress)
        summary.update(heartbeats=report.heartbeats, left_in_outboxes=report.left_in_outboxes,
                       seconds=round(report.seconds, 1))
        if report.heartbeats < 0.95 * summary["fixes"]:
            # HandsetAgent skips ticks it is too late for, as a phone resuming from sleep does.
            print(f"gwsim: warning: only {report.heartbeats} of {summary['fixes']} heartbeats were taken: this "
                  f"machine cannot keep {len(sim.workers)} handsets at speed {scenario.speed:g}; lower `speed`",
                  file=sys.stderr)
        summary.update(_run_injected(sim, args, url, progress))
    print(json.dumps(summary))
    return 0


def _run_injected(sim, args: argparse.Namespace, url: str, progress) -> dict:
    """The scenario's injected incidents, then its cameras and sensors; their part of the summary."""
    from .run import run_devices, run_incidents

    out: dict = {}
    receipts = not args.no_receipts
    if sim.incidents is not None:
        sent = run_incidents(sim, url, flush_timeout=args.flush_timeout, receipts=receipts, progress=progress)
        out.update(sightings=sent.published, sightings_left_in_outboxes=sent.left_in_outboxes)
    if sim.devices is not None:
        progress(f"running {len(sim.devices.cameras)} cameras and {len(sim.devices.sensors)} sensors")
        ran = run_devices(sim, url, args.out / "cameras", flush_timeout=args.flush_timeout, receipts=receipts)
        out.update(cameras={d: s["detections"] for d, s in ran.cameras.items()},
                   sensors={d: {k: s[k] for k in ("raised", "cleared")} for d, s in ran.sensors.items()},
                   devices_left_in_outboxes=ran.left_in_outboxes)
    return out


def _case_rules():
    """The cloud's case rules for the incidents' truth (needs the cloud package)."""
    from gridwatch.cli import UserError
    from gridwatch.settings import load_settings

    try:
        from .caserules import cloud_rules
        import cloud.cases.calendar  # noqa: F401  (psycopg: not in a simulator-only install)
    except ImportError as exc:
        raise UserError(f"[incidents] needs the cloud package for the expected deadlines "
                        f"(pip install 'gridwatch[cloud]'): {exc}") from exc
    settings = load_settings()
    return lambda city: cloud_rules(city, settings)
