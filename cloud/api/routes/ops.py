"""Operation endpoints outside /api/v1: `GET /healthz` and `GET /metrics`, both without a token.

/metrics answers only clients from the networks given to create_app (loopback by
default), since it has no authentication; a scraper elsewhere needs its network
added there, and a reverse proxy in front of the API must not forward /metrics.
"""
from __future__ import annotations

import ipaddress
import os

import psycopg
from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest, multiprocess

from cloud.api.deps import Pool

router = APIRouter(tags=["operation"])

HEALTH_TIMEOUT_S = 3.0


@router.get("/healthz", summary="200 when the database answers, 503 otherwise")
def healthz(pool: Pool) -> JSONResponse:
    try:
        with pool.connection(timeout=HEALTH_TIMEOUT_S) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        return JSONResponse({"status": "unavailable", "detail": f"database: {type(exc).__name__}"},
                            status_code=status.HTTP_503_SERVICE_UNAVAILABLE)
    return JSONResponse({"status": "ok"})


def client_allowed(host: str | None, networks: tuple) -> bool:
    try:
        address = ipaddress.ip_address(host or "")
    except ValueError:
        return False
    return any(address in net for net in networks)


def process_metrics() -> bytes:
    """This process's instruments, or every process's when prometheus_client runs in
    multiprocess mode (`gridwatch cloud` sets PROMETHEUS_MULTIPROC_DIR for its ingest slots)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)
    return generate_latest(REGISTRY)


@router.get("/metrics", summary="Prometheus text exposition (local clients only by default)")
def metrics(request: Request) -> Response:
    state = request.app.state
    if not client_allowed(request.client.host if request.client else None, state.metrics_networks):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "metrics are served to configured networks only")
    body = process_metrics() + generate_latest(state.metrics_registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
