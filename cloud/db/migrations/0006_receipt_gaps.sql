-- A permanent hole in a device's seqs (its outbox dropped messages at its cap,
-- or it lost its outbox) would stop its receipts for good, and a device that
-- gets no receipts stops sending new data once its in-flight cap is full.
-- After a hole has stayed open for `timeout` while later seqs keep arriving,
-- the cursor steps over it and the skip is recorded here. Devices resend
-- unconfirmed messages every ~30 s, so a hole that old is not in flight.
CREATE TABLE receipt_gap (
    dev        text NOT NULL,
    kind       text NOT NULL,
    from_seq   bigint NOT NULL,
    to_seq     bigint NOT NULL,
    skipped_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX receipt_gap_dev ON receipt_gap (dev, skipped_at);

-- How long a run has waited above a hole: the hole's age.
ALTER TABLE seq_ledger ADD COLUMN since timestamptz NOT NULL DEFAULT now();

-- A cursor whose oldest waiting run is older than `timeout` jumps to the end
-- of the first run above the hole.
CREATE FUNCTION gw_skip_receipt_gaps(timeout interval)
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
        GROUP BY c.dev, c.kind, c.seq
        HAVING min(l.since) < now() - timeout
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
