"""`gridwatch bench cases`: from a detection published to its case visible in the API.

A private broker and a throwaway database; N ingest slot processes and the API
in its own process, as `gridwatch cloud` runs them. A publisher sends
detections at a steady rate (default 1,000 per minute), each of a new
incident, and a poller reads `GET /api/v1/cases?after_id=` every 50 ms. The
latency of a detection is from its publish to the first poll that returns its
case (matched by the case's `origin`). Prints p50/p95/p99/max and the target.
"""
from __future__ import annotations

import http.client
import multiprocessing as mp
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlencode

import numpy as np
import orjson
import psycopg

from gridwatch.settings import Settings
from protocols import topics

CAMERAS = 20
KINDS = ("garbage", "obstruction", "fire", "crowd", "waterlogging")
SPACING_M = 200.0  # far beyond every merge radius: each detection is a new incident
TARGET_P99_S = 2.0
LOOKBACK_IDS = 300


@dataclass(frozen=True)
class CaseBenchResult:
    sent: int
    seen: int
    rate_per_min: float
    p50: float
    p95: float
    p99: float
    max: float

    def line(self) -> str:
        verdict = "met" if self.seen == self.sent and self.p99 < TARGET_P99_S else "NOT met"
        return (f"detections {self.sent} at {self.rate_per_min:.0f}/min, cases seen {self.seen}; detection to case "
                f"in the API: p50 {self.p50:.3f} s, p95 {self.p95:.3f} s, p99 {self.p99:.3f} s, "
                f"max {self.max:.3f} s (target p99 < {TARGET_P99_S:g} s: {verdict})")


def api_process_main(settings_json: str) -> None:
    import uvicorn
    from psycopg_pool import ConnectionPool

    from cloud.api.app import create_app

    settings = Settings.model_validate_json(settings_json)
    pool = ConnectionPool(settings.database_url, min_size=1, max_size=4, open=False)
    uvicorn.run(create_app(settings, pool, own_pool=True), host="127.0.0.1", port=settings.api_port,
                log_level="warning", access_log=False)


def prepare(settings: Settings) -> str:
    """Migrate, register the cameras, return an admin token."""
    from cloud.db.migrate import migrate
    from cloud.users import add_user, issue_token

    migrate(settings.database_url)
    with psycopg.connect(settings.database_url) as conn:
        for i in range(CAMERAS):
            conn.execute("INSERT INTO device (dev, kind, registered, lat, lon) VALUES (%s, 'camera', true, %s, %s)",
                         (f"bcam-{i}", 31.2 + i * 1e-3, 121.4))
        user = add_user(conn, "bench", "admin", "bench-password")
        return issue_token(conn, user, 3600).token


def detection(i: int, seq: int) -> tuple[str, bytes]:
    side = 64
    lat = 31.0 + (i // side) * SPACING_M / 111_320
    lon = 121.0 + (i % side) * SPACING_M / 95_000
    body = {"v": 1, "seq": seq, "ts": int(time.time() * 1000), "kind": KINDS[i % len(KINDS)], "score": 0.9,
            "box": [0.2, 0.2, 0.1, 0.1], "lat": lat, "lon": lon}
    return topics.build(f"bcam-{i % CAMERAS}", "det"), orjson.dumps(body)


class Poller(threading.Thread):
    """Polls the case list for new cases; records when each origin was first seen."""

    def __init__(self, port: int, token: str, interval_s: float = 0.05):
        super().__init__(daemon=True)
        self.port, self.token, self.interval_s = port, token, interval_s
        self.seen: dict[str, float] = {}
        self.stop = threading.Event()
        self.after_id = 0

    def poll_once(self, conn: http.client.HTTPConnection) -> None:
        # Ids are taken at insert and committed in any order across slots: re-read a margin
        # below the highest id seen, or a case committed late under a lower id is never seen.
        after = max(0, self.after_id - LOOKBACK_IDS)
        while True:
            query = urlencode({"after_id": after, "limit": 1000})
            conn.request("GET", f"/api/v1/cases?{query}", headers={"Authorization": f"Bearer {self.token}"})
            response = conn.getresponse()
            body = orjson.loads(response.read())
            if response.status != 200:
                raise RuntimeError(f"API answered {response.status}: {body}")
            now = time.monotonic()
            for item in body["items"]:
                self.seen.setdefault(item["origin"], now)
                self.after_id = max(self.after_id, item["id"])
                after = max(after, item["id"])
            if len(body["items"]) < 1000:
                return

    def run(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            while not self.stop.is_set():
                self.poll_once(conn)
                self.stop.wait(self.interval_s)
        finally:
            conn.close()


def publish_steadily(relay_url: str, count: int, rate_per_min: float, first: int = 0) -> dict[str, float]:
    """Publish `count` detections at a steady rate (QoS 1); origin -> monotonic send time."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    from gridwatch.settings import MqttEndpoint

    ep = MqttEndpoint.parse(relay_url)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-cases-{time.time_ns()}",
                         protocol=mqtt.MQTTv5)
    client.username_pw_set(ep.username, ep.password)
    client.connect(ep.host, ep.port)
    client.loop_start()
    sent: dict[str, float] = {}
    interval = 60.0 / rate_per_min
    start = time.monotonic()
    try:
        for n in range(count):
            time.sleep(max(0.0, start + n * interval - time.monotonic()))
            i = first + n
            topic, payload = detection(i, seq=i)
            sent[f"detection:bcam-{i % CAMERAS}:{i}"] = time.monotonic()
            client.publish(topic, payload, qos=1)
    finally:
        time.sleep(0.5)
        client.disconnect()
        client.loop_stop()
    return sent


def _wait_for(poller: Poller, origins: list[str], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and not all(o in poller.seen for o in origins):
        time.sleep(0.1)


def measure(settings: Settings, relay_url: str, token: str, count: int, rate_per_min: float) -> CaseBenchResult:
    poller = Poller(settings.api_port, token)
    poller.start()
    try:
        # Warm-up: every slot subscribed, the API answering, caches loaded.
        warm = publish_steadily(relay_url, 10, 600, first=0)
        _wait_for(poller, list(warm), 60)
        if not all(o in poller.seen for o in warm):
            raise TimeoutError("no case from the warm-up detections within 60 s: is the ingest running?")
        sent = publish_steadily(relay_url, count, rate_per_min, first=len(warm))
        _wait_for(poller, list(sent), 30)
    finally:
        poller.stop.set()
        poller.join(15)
    lat = np.array([poller.seen[o] - t for o, t in sent.items() if o in poller.seen])
    if lat.size == 0:
        raise RuntimeError("no case of the measured detections became visible")
    q = np.percentile(lat, [50, 95, 99])
    return CaseBenchResult(len(sent), int(lat.size), rate_per_min, *map(float, q), float(lat.max()))


def run(count: int, rate_per_min: float, workers: int) -> CaseBenchResult:
    from cloud.ingest.slot import slot_process_main
    from gridwatch.bench.stack import bench_stack
    from gridwatch.localstack import free_port, wait_port

    with bench_stack() as (base, relay_url, _broker_pid):
        settings = base.model_copy(update={"api_port": free_port()})
        token = prepare(settings)
        ctx = mp.get_context("spawn")
        procs = [ctx.Process(target=slot_process_main, args=(settings.model_dump_json(), slot, 0, True))
                 for slot in range(1, workers + 1)]
        procs.append(ctx.Process(target=api_process_main, args=(settings.model_dump_json(),)))
        for p in procs:
            p.start()
        try:
            wait_port(settings.api_port, 60)
            return measure(settings, relay_url, token, count, rate_per_min)
        finally:
            for p in procs:
                p.terminate()
            for p in procs:
                p.join(30)
