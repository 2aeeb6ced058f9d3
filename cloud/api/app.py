"""The HTTP API and dashboard as one FastAPI app, built by `create_app(settings, pool)`.

The composition root owns the connection pool and hands it in; the app's
lifespan opens and closes it only when asked to (`own_pool=True`).
"""
from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterable
from contextlib import asynccontextmanager
from pathlib import Path

import psycopg
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from psycopg_pool import ConnectionPool
from starlette.concurrency import run_in_threadpool

from cloud.api.live import LiveLimits, LiveRegistry
from cloud.api.metrics import database_registry
from cloud.api.routes import attendance, auth, cases, deadletters, devices, grids, live, ops, osmand
from cloud.cases.metrics import CaseCollector
from gridwatch.settings import Settings

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).parent / "static"
LOCAL_NETWORKS = ("127.0.0.0/8", "::1/128")
_PAGE_HEADERS = {
    # Everything the dashboard loads comes from this server; nothing inline, nothing remote.
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def _lifespan(pool: ConnectionPool, own_pool: bool):
    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if own_pool:
            await run_in_threadpool(pool.open, wait=True)
        try:
            yield
        finally:
            if own_pool:
                await run_in_threadpool(pool.close)

    return lifespan


async def _database_unavailable(request: Request, exc: psycopg.OperationalError) -> JSONResponse:
    # The one place where a lost database becomes an HTTP answer: 503, not a traceback.
    log.warning("%s %s: database unavailable: %s", request.method, request.url.path, exc)
    return JSONResponse({"detail": "database unavailable, try again shortly"}, status_code=503,
                        headers={"Retry-After": "5"})


def _api_router() -> APIRouter:
    api = APIRouter(prefix="/api/v1")
    for module in (auth, devices, deadletters, live, cases, attendance, grids):
        api.include_router(module.router)
    return api


def _dashboard(app: FastAPI) -> None:
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", headers=_PAGE_HEADERS)


def create_app(settings: Settings, pool: ConnectionPool, *, own_pool: bool = False,
               live_limits: LiveLimits | None = None,
               metrics_networks: Iterable[str] = LOCAL_NETWORKS) -> FastAPI:
    """The API on `pool`. `metrics_networks`: who may read the unauthenticated /metrics."""
    app = FastAPI(title="gridwatch", version="1", lifespan=_lifespan(pool, own_pool),
                  description="Grid workers' positions, dead letters and live events. "
                              "Get a token from POST /api/v1/token and send it as `Authorization: Bearer`.")
    app.state.settings = settings
    app.state.pool = pool
    app.state.live = LiveRegistry(live_limits or LiveLimits())
    app.state.metrics_registry = database_registry(pool)
    app.state.metrics_registry.register(CaseCollector(pool))
    app.state.metrics_networks = tuple(ipaddress.ip_network(n) for n in metrics_networks)
    app.add_exception_handler(psycopg.OperationalError, _database_unavailable)
    app.include_router(_api_router())
    app.include_router(ops.router)
    app.include_router(osmand.router)  # CONTRACT section 3: at /osmand, without a token
    _dashboard(app)
    return app
