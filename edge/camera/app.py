"""Composition root of `gridwatch edge camera`: settings, config, source, node, agent."""
from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading

from gridwatch.cli import UserError
from gridwatch.settings import load_settings
from protocols import topics

from ..node import EdgeNode
from ..outbox import OutboxError
from .agent import CameraAgent
from .config import CameraConfig, CameraConfigError, load_config
from .sources import FileSource, LiveSource, SourceError, parse_source

log = logging.getLogger(__name__)


def make_source(src: str, config: CameraConfig, stop: threading.Event):
    try:
        how, target = parse_source(src)
        if how == "file":
            return FileSource(target)
        return LiveSource(target, stop, backoff=(config.reconnect_min_s, config.reconnect_max_s))
    except SourceError as exc:
        raise UserError(str(exc)) from exc


def run(args: argparse.Namespace) -> int:
    if not topics.is_device_id(args.device):
        raise UserError(f"{args.device!r} is not a device id (lowercase letters, digits, '-', '_')")
    try:
        config = load_config(args.config)
    except CameraConfigError as exc:
        raise UserError(str(exc)) from exc
    stop = threading.Event()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
    source = make_source(args.source, config, stop)
    try:
        node = EdgeNode.open(load_settings(), args.device, password=args.password, outbox_path=args.outbox)
    except (OutboxError, ValueError, OSError) as exc:
        source.close()
        raise UserError(str(exc)) from exc
    agent = CameraAgent(args.device, node.outbox, source, config, stop)
    node.start()
    try:
        summary = agent.run()
    except KeyboardInterrupt:
        log.info("%s: interrupted, flushing", args.device)
        summary = agent.summary
    finally:
        source.close()
        stats = node.close(args.flush_timeout)
    flushed = stats.queued + stats.inflight == 0
    print(json.dumps({**summary.as_json(), "reconnects": source.reconnects, "flushed": flushed}), flush=True)
    if not flushed:
        print(f"gridwatch: {args.device}: some detections are not confirmed by the cloud yet; "
              f"they stay in the outbox and go out on the next start", file=sys.stderr)
    return 0 if flushed else 1
