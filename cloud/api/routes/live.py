"""`GET /api/v1/live`: server-sent events of new positions and dead letters (see cloud.api.live)."""
from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import StreamingResponse

from cloud.api.deps import CurrentSession, Pool
from cloud.api.live import LiveRegistry, stream

router = APIRouter(tags=["live"])

_DESCRIPTION = """text/event-stream. Events: `hello` (once), `position` (a new heartbeat inside the
caller's scope: dev, seq, ts, received_at, lat, lon, acc, grid), `deadletter` (admins and operators:
id, received_at, topic, reason, detail, dev, seq, size), `case` (a case visible to the caller opened or
changed: id, event, from, to, actor, at, kind, status, department, grid, due_at, evidence_count),
`bye` (the stream ends; reconnect).
Comment lines keep idle connections open. Send the token as `Authorization: Bearer`."""


@router.get("/live", summary="Live positions, dead letters and cases (server-sent events)", description=_DESCRIPTION,
            response_class=StreamingResponse,
            responses={200: {"content": {"text/event-stream": {}}},
                       429: {"description": "too many open streams (per user or in total)"}})
async def live(request: Request, session: CurrentSession, pool: Pool) -> StreamingResponse:
    registry: LiveRegistry = request.app.state.live
    lease = registry.acquire(session.user.id)
    if lease is None:
        raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS, "too many open live streams; close one first",
                            headers={"Retry-After": "10"})
    return StreamingResponse(stream(pool, session, registry.limits, lease), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
