"""Messages the ingest could not store as data: `GET /api/v1/deadletters` (admins and operators)."""
from __future__ import annotations

import base64
from typing import Annotated

import psycopg
from fastapi import APIRouter, Query

from cloud.api.deps import Conn, DeadLetterReader, InstantParam, PageParams, Paging, Scope
from cloud.api.models import DeadLetterOut, Page

router = APIRouter(tags=["dead letters"])

# How much of a payload a listing shows; `size` tells the whole.
PAYLOAD_PREVIEW_BYTES = 2048


def render_payload(head: bytes, size: int, limit: int = PAYLOAD_PREVIEW_BYTES) -> dict:
    """The first `limit` bytes of a payload as text when it is UTF-8, else as base64.

    A cut inside a multi-byte character does not make UTF-8 text look binary.
    """
    shown = head[:limit]
    truncated = size > len(shown)
    for cut in range(4 if truncated else 1):
        try:
            text = shown[:len(shown) - cut].decode("utf-8")
        except UnicodeDecodeError:
            continue
        return {"encoding": "utf-8", "payload": text, "truncated": truncated or cut > 0, "size": size}
    return {"encoding": "base64", "payload": base64.b64encode(shown).decode("ascii"),
            "truncated": truncated, "size": size}


def list_dead_letters(conn: psycopg.Connection, scope: Scope, filters: dict, page: Paging) -> Page[DeadLetterOut]:
    where = [scope.devices("dl.dev")]
    for column, op in (("reason", "="), ("dev", "="), ("since", ">="), ("until", "<=")):
        if filters.get(column) is not None:
            target = "received_at" if column in ("since", "until") else column
            where.append(f"dl.{target} {op} %({column})s")
    cond = " AND ".join(where)
    params = {**scope.params, **filters, "limit": page.limit, "offset": page.offset,
              "preview": PAYLOAD_PREVIEW_BYTES}
    total = conn.execute(f"SELECT count(*) FROM dead_letter dl WHERE {cond}", params).fetchone()[0]
    rows = conn.execute(
        f"""SELECT dl.id, dl.received_at, dl.topic, dl.reason, dl.detail, dl.dev, dl.seq,
                   substring(dl.payload FROM 1 FOR %(preview)s), octet_length(dl.payload)
            FROM dead_letter dl WHERE {cond}
            ORDER BY dl.received_at DESC, dl.id DESC LIMIT %(limit)s OFFSET %(offset)s""", params).fetchall()
    items = [DeadLetterOut(id=r[0], received_at=r[1], topic=r[2], reason=r[3], detail=r[4], dev=r[5], seq=r[6],
                           **render_payload(bytes(r[7]), r[8]))
             for r in rows]
    return Page[DeadLetterOut](items=items, total=total)


@router.get("/deadletters", response_model=Page[DeadLetterOut], summary="Dead letters, newest first")
def deadletters(session: DeadLetterReader, conn: Conn, page: PageParams,
                reason: Annotated[str | None, Query(description="only this reason")] = None,
                dev: Annotated[str | None, Query(description="only this device")] = None,
                since: Annotated[InstantParam | None, Query(description="received at or after; ISO-8601 or epoch ms")] = None,
                until: Annotated[InstantParam | None, Query(description="received at or before")] = None,
                ) -> Page[DeadLetterOut]:
    filters = {"reason": reason, "dev": dev, "since": since, "until": until}
    return list_dead_letters(conn, session.scope, filters, page)
