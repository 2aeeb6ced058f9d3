-- Seqs committed above a hole in a device's seqs move from seq_ledger rows into
-- the receipt cursor's own row, as a multirange.
--
-- When a broker hands one device's messages to several ingest slots in turn
-- (Mosquitto's shared subscriptions do, round robin), each slot's seqs of that
-- device have holes that only the other slots' fill, so every cursor walk parked
-- about half its seqs as ledger rows for the next walk to merge and delete
-- (`gridwatch bench ingest`, two slots, pg_stat_user_tables after 210,000 single heartbeats: 44,566 ledger
-- rows written, 43,676 deleted). In the cursor row they cost no more than the
-- update of a row the walk locks and writes anyway (store._advance_cursors).
--
-- pending_since: since when the lowest hole has kept `pending` waiting. It is
-- reset when the cursor moves and something still waits (the new hole is at most
-- that old), so a hole is stepped over later than it could be, never earlier.
-- Multiranges need PostgreSQL 14.
ALTER TABLE receipt_cursor
    ADD COLUMN pending int8multirange NOT NULL DEFAULT '{}',
    ADD COLUMN pending_since timestamptz;

UPDATE receipt_cursor c
SET pending = l.runs - int8multirange(int8range(NULL, c.seq + 1)),
    pending_since = l.since
FROM (SELECT dev, kind, range_agg(int8range(lo, hi, '[]')) AS runs, min(since) AS since
      FROM seq_ledger GROUP BY dev, kind) l
WHERE c.dev = l.dev AND c.kind = l.kind;
UPDATE receipt_cursor SET pending_since = NULL WHERE isempty(pending) AND pending_since IS NOT NULL;

-- As in 0007, on `pending`: step over a hole only when it has kept later seqs
-- waiting for `timeout` and the device has been heard from for `timeout` after that.
-- The cursor then takes the end of the first waiting run: `pending` is canonical
-- (touching runs merged), so that run ends at the next hole. Walking seqs into
-- cursors is done by the ingest (store.advance), not here.
CREATE OR REPLACE FUNCTION gw_skip_receipt_gaps(timeout interval)
RETURNS TABLE (dev text, kind text, seq bigint)
LANGUAGE plpgsql AS $$
DECLARE
    r record;
    waiting int8multirange;
    first_run int8range;
BEGIN
    FOR r IN
        SELECT c.dev, c.kind, c.seq
        FROM receipt_cursor c
        JOIN device d ON d.dev = c.dev
        WHERE NOT isempty(c.pending)
          AND c.pending_since < now() - timeout AND d.last_seen > c.pending_since + timeout
        ORDER BY c.dev, c.kind
    LOOP
        -- Lock and re-check: another worker may have moved it meanwhile.
        SELECT c.pending INTO waiting FROM receipt_cursor c
        WHERE c.dev = r.dev AND c.kind = r.kind AND c.seq = r.seq
        FOR UPDATE SKIP LOCKED;
        CONTINUE WHEN NOT FOUND OR isempty(waiting);
        INSERT INTO receipt_gap (dev, kind, from_seq, to_seq) VALUES (r.dev, r.kind, r.seq + 1, lower(waiting) - 1);
        SELECT x INTO first_run FROM unnest(waiting) AS x LIMIT 1;  -- unnest reads out in ascending order
        waiting := waiting - int8multirange(first_run);
        UPDATE receipt_cursor c
        SET seq = upper(first_run) - 1, pending = waiting, updated_at = now(),
            pending_since = CASE WHEN isempty(waiting) THEN NULL ELSE now() END
        WHERE c.dev = r.dev AND c.kind = r.kind;
        dev := r.dev; kind := r.kind; seq := upper(first_run) - 1;
        RETURN NEXT;
    END LOOP;
END;
$$;

DROP TABLE seq_ledger;
