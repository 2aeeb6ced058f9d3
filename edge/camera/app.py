"""Composition root of `gridwatch edge camera`: settings, config, source, node, agent."""
from __future__ import annotations

import argparse
import json
import logging
import sys
import threading

from gridwatch.cli import UserError
from gridwatch.settings import load_settings

from ..appkit import checked_device, open_node, stop_on_sigterm
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
    checked_device(args.device)
    try:
        config = load_config(args.config)
    except CameraConfigError as exc:
        raise UserError(str(exc)) from exc
    stop = threading.Event()
    stop_on_sigterm(stop)
    source = make_source(args.source, config, stop)
    node = open_node(load_settings(), args, on_error=source.close)
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
