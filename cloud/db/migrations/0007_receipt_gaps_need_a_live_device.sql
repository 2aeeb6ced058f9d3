-- Step over a hole only when the device has been heard from for longer than
-- `timeout` after the run behind the hole arrived: it had the chance to
-- resend and did not, so the hole is in its outbox (dropped at its cap, or a
-- lost outbox), not in flight. A device that went quiet right after the run
-- keeps its hole: stepping over it would make the device delete messages it
-- still holds and never sent again.
CREATE OR REPLACE FUNCTION gw_skip_receipt_gaps(timeout interval)
RETURNS TABLE (dev text, kind text, seq bigint)
LANGUAGE plpgsql AS $$
DECLARE
    r record;
    run_end bigint;
BEGIN
    FOR r IN
        SELECT c.dev, c.kind, c.seq, min(l.lo) AS next_lo
        FROM receipt_cursor c
        JOIN seq_ledger l ON l.dev = c.dev AND l.kind = c.kind AND l.lo > c.seq + 1
        JOIN device d ON d.dev = c.dev
        GROUP BY c.dev, c.kind, c.seq, d.last_seen
        HAVING min(l.since) < now() - timeout AND d.last_seen > min(l.since) + timeout
        ORDER BY c.dev, c.kind
    LOOP
        -- Lock and re-check: another worker may have moved it meanwhile.
        PERFORM 1 FROM receipt_cursor c WHERE c.dev = r.dev AND c.kind = r.kind AND c.seq = r.seq
            FOR UPDATE SKIP LOCKED;
        CONTINUE WHEN NOT FOUND;
        INSERT INTO receipt_gap (dev, kind, from_seq, to_seq) VALUES (r.dev, r.kind, r.seq + 1, r.next_lo - 1);
        WITH RECURSIVE walk(s) AS (
            SELECT r.next_lo - 1
            UNION ALL
            SELECT nxt.hi FROM walk w CROSS JOIN LATERAL (
                SELECT max(l.hi) AS hi FROM seq_ledger l
                WHERE l.dev = r.dev AND l.kind = r.kind AND l.lo <= w.s + 1 AND l.hi > w.s) nxt
            WHERE nxt.hi IS NOT NULL
        )
        SELECT max(s) INTO run_end FROM walk;
        UPDATE receipt_cursor c SET seq = run_end, updated_at = now() WHERE c.dev = r.dev AND c.kind = r.kind;
        DELETE FROM seq_ledger l WHERE l.dev = r.dev AND l.kind = r.kind AND l.hi <= run_end;
        dev := r.dev; kind := r.kind; seq := run_end;
        RETURN NEXT;
    END LOOP;
END;
$$;
