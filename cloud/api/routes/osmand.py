"""`GET|POST /osmand`: the Traccar Client app (OsmAnd protocol) feeding the ingest pipeline.

No bearer token: the app cannot send one. Who may post:

* `id` is an `osmand:ID` alias of a device, or the id of a device the
  registry knows (registered). Unlike MQTT there is no broker in front of
  this door, so an unknown id is not stored as a new device: it is
  dead-lettered `unknown_alias` and answered 400.
* optional `key` (query/form parameter, or top-level `key` in JSON): when
  sent it must be the device's broker password (checked against its `$7$`
  hash), else 403 and nothing is stored; with `geo_osmand_require_key` a
  request without a key is refused 401. (Put it in the app's server URL,
  e.g. `https://host/osmand?key=...`.) Refused credentials are not
  dead-lettered: a stranger's requests are not our data.

Everything else goes through the same Pipeline as MQTT messages (decode,
checks, grid enrichment, storage, reactions) on the API's pool: 200 when
stored, 400 with the reason when rejected, and the rejected request is in
the dead letters with topic `osmand` and the request as it came.
"""
from __future__ import annotations

import threading
import time
from datetime import datetime, timezone
from urllib.parse import parse_qsl

import orjson
import psycopg
from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from cloud.api.deps import connection
from cloud.broker.config import verify_password
from cloud.ingest import osmand
from cloud.ingest.batch import Inbound, Rows
from cloud.ingest.pipeline import Pipeline
from cloud.ingest.steps import default_steps
from protocols import topics
from protocols.decode import Reason, Rejection

router = APIRouter(tags=["outside clients"])

DEAD_TOPIC = "osmand"
_lock = threading.Lock()


def _pipeline(request: Request) -> Pipeline:
    state = request.app.state
    with _lock:
        if getattr(state, "osmand_pipeline", None) is None:
            state.osmand_pipeline = Pipeline(state.settings, default_steps(state.settings))
        return state.osmand_pipeline


def _raw(request: Request, body: bytes) -> bytes:
    """The request as it came, for the dead letters."""
    query = request.url.query
    return f"{request.method} /osmand{'?' + query if query else ''}\n\n".encode() + body


def _device(conn: psycopg.Connection, ident: str) -> tuple[str, str | None] | None:
    """(device id, broker password hash) of an `osmand:` alias or a registered device id."""
    row = conn.execute(
        """SELECT d.dev, d.broker_password_hash FROM device_alias a JOIN device d USING (dev)
           WHERE a.alias = %s""", (f"osmand:{ident}",)).fetchone()
    if row is None and topics.is_device_id(ident):
        row = conn.execute("SELECT dev, broker_password_hash FROM device WHERE dev = %s AND registered",
                           (ident,)).fetchone()
    return (row[0], row[1]) if row else None


def _check_key(fix: osmand.OsmAndFix, password_hash: str | None, require: bool) -> None:
    if fix.key is None:
        if require:
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, "this server needs the device's `key`")
        return
    if password_hash is None or not verify_password(fix.key, password_hash):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "wrong key for this device")


def _dead(rows: Rows, raw: bytes, dev: str | None) -> Rows:
    """Dead letters keep the request as it came under topic `osmand`, not our translation."""
    return Rows(heartbeat=rows.heartbeat, seen=rows.seen,
                dead_letter=[(d[0], DEAD_TOPIC, raw, d[3], d[4], dev, None) for d in rows.dead_letter])


def ingest(pipeline: Pipeline, conn: psycopg.Connection, fix: osmand.OsmAndFix | Rejection, raw: bytes,
           now: float) -> Rows:
    """Store one request through the pipeline; returns what was written (heartbeat or dead letter)."""
    with _lock:
        pipeline.refresh(conn)
    received = datetime.fromtimestamp(now, timezone.utc)
    if isinstance(fix, Rejection):
        rows = Rows(dead_letter=[(received, DEAD_TOPIC, raw, fix.reason.value, fix.detail, None, None)])
        pipeline.commit(conn, [], rows)
        return rows
    found = _device(conn, fix.ident)
    if found is None:
        detail = f"no device has the id or alias osmand:{fix.ident}: gridwatch devices add DEV --alias osmand:{fix.ident}"
        rows = Rows(dead_letter=[(received, DEAD_TOPIC, raw, Reason.UNKNOWN_ALIAS.value, detail, None, None)])
        pipeline.commit(conn, [], rows)
        return rows
    dev, password_hash = found
    _check_key(fix, password_hash, pipeline.settings.geo_osmand_require_key)
    inbound = Inbound(topics.build(dev, "hb"), orjson.dumps(fix.heartbeat), 0, now)
    # Outside clients read no receipts: their made-up seqs (fix times) are not tracked (rows.seqs dropped).
    rows = _dead(pipeline.rows([inbound]), raw, dev)
    pipeline.commit(conn, [inbound], rows)
    return rows


def _handle(request: Request, params: dict[str, str], body: bytes) -> JSONResponse:
    now = time.time()
    fix = osmand.parse(params, body, request.headers.get("content-type", ""), int(now * 1000))
    with connection(request.app.state.pool) as conn:
        rows = ingest(_pipeline(request), conn, fix, _raw(request, body), now)
    if rows.dead_letter:
        _, _, _, reason, detail, _, _ = rows.dead_letter[0]
        return JSONResponse({"stored": False, "reason": reason, "detail": detail}, status_code=400)
    return JSONResponse({"stored": True})


# A Traccar Client request is a few hundred bytes; an unauthenticated route must not
# let anyone fill the dead-letter table with megabytes.
MAX_BODY_BYTES = 16 * 1024


async def _params_and_body(request: Request) -> tuple[dict[str, str], bytes]:
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, f"a fix is at most {MAX_BODY_BYTES} bytes")
    params = dict(request.query_params)
    if body and "application/x-www-form-urlencoded" in request.headers.get("content-type", ""):
        params.update(parse_qsl(body.decode("utf-8", "replace")))
    return params, body


_RESPONSES = {400: {"description": "rejected and dead-lettered, with the reason"},
              401: {"description": "a key is required"}, 403: {"description": "wrong key"},
              413: {"description": "body too large; not kept"}}


async def _serve(request: Request) -> JSONResponse:
    params, body = await _params_and_body(request)
    return await run_in_threadpool(_handle, request, params, body)


@router.get("/osmand", summary="one fix from the Traccar Client app (OsmAnd query form)", responses=_RESPONSES)
async def osmand_get(request: Request) -> JSONResponse:
    return await _serve(request)


@router.post("/osmand", summary="one fix from the Traccar Client app (query, form or JSON body)",
             responses=_RESPONSES)
async def osmand_post(request: Request) -> JSONResponse:
    return await _serve(request)
