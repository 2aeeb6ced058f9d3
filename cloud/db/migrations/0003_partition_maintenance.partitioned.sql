-- Maintenance of the time-series tables, native-partition storage mode.
--
-- The .timescale.sql twin defines the same functions with the same result
-- shapes, so cloud/db/partitions.py calls one API whatever the mode:
--   gw_ensure_partitions(days_back, days_ahead)    daily partitions; backlog moved out of DEFAULT
--   gw_drop_expired_partitions(retention_days)     retention of time series, dead letters, tokens
--   gw_apply_policies(retention_days, compress_after_days)   TimescaleDB only: a no-op here
--   gw_partition_report()                          per table: partitions, rows, DEFAULT backlog
-- Both maintenance functions return (relation, action, row_count) rows, the
-- relation named as regclass prints it (schema-qualified only off search_path).
--
-- Days are UTC whatever the session's TimeZone: the functions pin it, because
-- partition names and bounds must not depend on who calls.
--
-- Table locks and ingest: a DDL statement waiting for a lock makes every later
-- insert queue behind it. The caller sets lock_timeout (partitions.py does);
-- a step that times out is reported as 'skipped: lock timeout' and retried on
-- the next run, instead of failing the whole run.

-- The time-series tables to look after. A later migration adding one registers
-- it here; it must be PARTITION BY RANGE (ts) on timestamptz, with a DEFAULT
-- partition (the same statement works in the TimescaleDB mode, for a hypertable).
CREATE TABLE timeseries_table (
    table_name text PRIMARY KEY
);
INSERT INTO timeseries_table (table_name) VALUES ('heartbeat'), ('detection'), ('sensor_alert');

-- One maintenance run at a time across every gridwatch process (the cloud runs
-- the job in each process; `db migrate` runs it too). Transaction-scoped, so a
-- crashed caller cannot leave it held. The wait for it is exempt from the
-- caller's lock_timeout: that one is meant for table locks. The two-key form
-- cannot collide with the one-key migration lock in cloud/db/migrate.py.
CREATE FUNCTION gw_maintenance_lock() RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    caller_timeout text := current_setting('lock_timeout');
BEGIN
    PERFORM set_config('lock_timeout', '0', true);
    PERFORM pg_advisory_xact_lock(x'67726964'::int, 3);
    PERFORM set_config('lock_timeout', caller_timeout, true);
END $$;

-- The DEFAULT partition of a range-partitioned table, or NULL when it has none
-- (or is no range-partitioned table at all).
CREATE FUNCTION gw_default_partition(parent regclass) RETURNS regclass
LANGUAGE sql STABLE AS $$
    SELECT nullif(partdefid, 0)::regclass
    FROM pg_partitioned_table
    WHERE partrelid = parent AND partstrat = 'r'
$$;

-- The registered tables, checked: a mistake in a later migration is named here
-- rather than surfacing as an obscure error in the middle of a run.
CREATE FUNCTION gw_timeseries_tables() RETURNS SETOF regclass
LANGUAGE plpgsql STABLE AS $$
DECLARE
    name text;
BEGIN
    FOR name IN SELECT r.table_name FROM timeseries_table r ORDER BY r.table_name LOOP
        IF gw_default_partition(to_regclass(name)) IS NULL THEN
            RAISE EXCEPTION 'time-series table % is missing, not PARTITION BY RANGE, or has no DEFAULT partition', name
                USING HINT = 'fix the migration that registered it in timeseries_table';
        END IF;
        RETURN NEXT to_regclass(name);
    END LOOP;
END $$;

-- Qualified name of the partition of `parent` for UTC day `day`: <table>_pYYYYMMDD.
CREATE FUNCTION gw_day_partition(parent regclass, day date) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT format('%I.%I', n.nspname, c.relname || '_p' || to_char(day, 'YYYYMMDD'))
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.oid = parent
$$;

-- The daily partitions of `parent` made by gw_ensure_partitions, with their day
-- read from the name: only these are ever dropped, never a hand-made partition.
CREATE FUNCTION gw_day_partitions(parent regclass) RETURNS TABLE (part regclass, day date)
LANGUAGE sql STABLE AS $$
    SELECT c.oid::regclass, to_date(right(c.relname, 8), 'YYYYMMDD')
    FROM pg_inherits i
    JOIN pg_class c ON c.oid = i.inhrelid
    JOIN pg_class p ON p.oid = i.inhparent
    WHERE i.inhparent = parent
      AND right(c.relname, 8) ~ '^[0-9]{8}$'
      AND c.relname = p.relname || '_p' || right(c.relname, 8)
$$;

-- UTC days that need a partition of `parent`: the window asked for, plus every
-- day with rows waiting in DEFAULT (a late backlog gets its own partition),
-- minus the days that have one.
CREATE FUNCTION gw_missing_days(parent regclass, first_day date, last_day date) RETURNS SETOF date
LANGUAGE plpgsql STABLE SET timezone = 'UTC' AS $$
BEGIN
    RETURN QUERY EXECUTE format(
        'SELECT d::date FROM generate_series($1::timestamp, $2::timestamp, interval ''1 day'') AS d
         UNION SELECT ts::date FROM %s
         EXCEPT SELECT day FROM gw_day_partitions($3)
         ORDER BY 1', gw_default_partition(parent))
    USING first_day, last_day, parent;
END $$;

-- Creates the partition of `parent` for UTC day `day`; returns the number of
-- rows it took over from DEFAULT. Built standalone, filled, then ATTACHed, not
-- CREATE TABLE ... PARTITION OF, for two reasons: that fails outright when
-- DEFAULT already holds rows of the day (a late backlog), and it locks the
-- parent ACCESS EXCLUSIVE, stalling all ingest, where ATTACH takes SHARE UPDATE
-- EXCLUSIVE on the parent and ACCESS EXCLUSIVE only on DEFAULT.
CREATE FUNCTION gw_add_day_partition(parent regclass, day date) RETURNS bigint
LANGUAGE plpgsql SET timezone = 'UTC' AS $$
DECLARE
    part text := gw_day_partition(parent, day);
    dflt regclass := gw_default_partition(parent);
    lo timestamptz := day::timestamptz;          -- midnight UTC (timezone pinned above)
    hi timestamptz := (day + 1)::timestamptz;
    cols text;
    moved bigint;
BEGIN
    -- Parent first, then DEFAULT: the order ATTACH itself takes them in, so
    -- runs cannot deadlock with each other. DEFAULT is locked before the move,
    -- so no row of this day can reach it between the move and the ATTACH.
    EXECUTE format('LOCK TABLE %s IN SHARE UPDATE EXCLUSIVE MODE', parent);
    EXECUTE format('LOCK TABLE %s IN ACCESS EXCLUSIVE MODE', dflt);
    -- No indexes yet: ATTACH builds the parent's indexes once, after the rows are in.
    EXECUTE format('CREATE TABLE %s (LIKE %s INCLUDING DEFAULTS INCLUDING CONSTRAINTS'
                   ' INCLUDING STORAGE INCLUDING COMPRESSION)', part, parent);
    -- Columns by name: DEFAULT's physical column order may differ from the parent's.
    SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) INTO cols
    FROM pg_attribute WHERE attrelid = parent AND attnum > 0 AND NOT attisdropped;
    EXECUTE format('WITH moved AS (DELETE FROM %1$s WHERE ts >= $1 AND ts < $2 RETURNING %3$s)'
                   ' INSERT INTO %2$s (%3$s) SELECT %3$s FROM moved', dflt, part, cols)
    USING lo, hi;
    GET DIAGNOSTICS moved = ROW_COUNT;
    EXECUTE format('ALTER TABLE %s ATTACH PARTITION %s FOR VALUES FROM (%L) TO (%L)', parent, part, lo, hi);
    RETURN moved;
END $$;

-- Daily partitions for [today - days_back, today + days_ahead] (UTC) and for
-- every day with rows in DEFAULT, on every registered table. Idempotent.
-- Returns one row per partition created ('created', rows moved out of DEFAULT)
-- and per table left for the next run ('skipped: lock timeout').
CREATE FUNCTION gw_ensure_partitions(days_back int, days_ahead int)
RETURNS TABLE (relation text, action text, row_count bigint)
LANGUAGE plpgsql SET timezone = 'UTC' AS $$
DECLARE
    t regclass;
    d date;
BEGIN
    PERFORM gw_maintenance_lock();
    FOR t IN SELECT gw_timeseries_tables() LOOP
        FOR d IN SELECT gw_missing_days(t, current_date - days_back, current_date + days_ahead) LOOP
            BEGIN
                row_count := gw_add_day_partition(t, d);
                relation := gw_day_partition(t, d)::regclass::text;
                action := 'created';
            EXCEPTION WHEN lock_not_available THEN
                -- The subtransaction is rolled back: moved rows are back in DEFAULT.
                relation := t::text;
                action := 'skipped: lock timeout';
                row_count := NULL;
            END;
            RETURN NEXT;
            EXIT WHEN action <> 'created';  -- the next day would wait for the same lock
        END LOOP;
    END LOOP;
END $$;

-- Rows of the non-partitioned tables that expire: dead letters as old as the
-- time series, and bearer tokens past their expiry.
CREATE FUNCTION gw_prune_expired_rows(cutoff timestamptz)
RETURNS TABLE (relation text, action text, row_count bigint)
LANGUAGE plpgsql AS $$
BEGIN
    relation := 'dead_letter';
    action := 'deleted';
    DELETE FROM dead_letter WHERE received_at < cutoff;
    GET DIAGNOSTICS row_count = ROW_COUNT;
    RETURN NEXT;
    relation := 'api_token';
    DELETE FROM api_token WHERE expires_at < now();
    GET DIAGNOSTICS row_count = ROW_COUNT;
    RETURN NEXT;
END $$;

-- Retention: drops the daily partitions lying entirely before now - retention,
-- deletes older rows still in DEFAULT, and prunes dead letters and expired
-- tokens. Returns one row per partition ('dropped' or 'skipped: lock timeout')
-- and per table rows were deleted from ('deleted', count).
CREATE FUNCTION gw_drop_expired_partitions(retention_days int)
RETURNS TABLE (relation text, action text, row_count bigint)
LANGUAGE plpgsql SET timezone = 'UTC' AS $$
DECLARE
    cutoff timestamptz := now() - make_interval(days => retention_days);
    t regclass;
    p regclass;
BEGIN
    PERFORM gw_maintenance_lock();
    FOR t IN SELECT gw_timeseries_tables() LOOP
        FOR p IN SELECT dp.part FROM gw_day_partitions(t) dp
                 WHERE (dp.day + 1)::timestamptz <= cutoff ORDER BY dp.day LOOP
            relation := p::text;
            row_count := NULL;
            BEGIN
                -- Locks the parent ACCESS EXCLUSIVE, briefly: hence the lock_timeout.
                EXECUTE format('DROP TABLE %s', p);
                action := 'dropped';
            EXCEPTION WHEN lock_not_available THEN
                action := 'skipped: lock timeout';
            END;
            RETURN NEXT;
            EXIT WHEN action <> 'dropped';
        END LOOP;
        relation := gw_default_partition(t)::text;
        action := 'deleted';
        EXECUTE format('DELETE FROM %s WHERE ts < $1', gw_default_partition(t)) USING cutoff;
        GET DIAGNOSTICS row_count = ROW_COUNT;
        IF row_count > 0 THEN
            RETURN NEXT;
        END IF;
    END LOOP;
    RETURN QUERY SELECT * FROM gw_prune_expired_rows(cutoff) e WHERE e.row_count > 0;
END $$;

-- Native partitions have no background policies: retention is the maintenance
-- job's gw_drop_expired_partitions, and there is no compression. Defined so
-- that callers need not know the storage mode.
CREATE FUNCTION gw_apply_policies(retention_days int, compress_after_days int)
RETURNS TABLE (relation text, action text, row_count bigint)
LANGUAGE sql AS $$
    SELECT NULL::text, NULL::text, NULL::bigint WHERE false
$$;

-- Per registered table: its daily partitions, a row estimate from the
-- planner's statistics (0 for a partition never analysed), the exact number of
-- rows waiting in DEFAULT (should be near 0 after a maintenance run), and the
-- first and last day with a partition.
CREATE FUNCTION gw_partition_report()
RETURNS TABLE (table_name text, partitions int, rows_estimate bigint, default_rows bigint,
               oldest_day date, newest_day date)
LANGUAGE plpgsql STABLE SET timezone = 'UTC' AS $$
DECLARE
    t regclass;
BEGIN
    FOR t IN SELECT gw_timeseries_tables() LOOP
        table_name := t::text;
        SELECT count(*)::int, min(dp.day), max(dp.day)
          INTO partitions, oldest_day, newest_day
          FROM gw_day_partitions(t) dp;
        SELECT coalesce(sum(greatest(c.reltuples, 0)), 0)::bigint INTO rows_estimate
          FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
         WHERE i.inhparent = t;
        EXECUTE format('SELECT count(*) FROM %s', gw_default_partition(t)) INTO default_rows;
        RETURN NEXT;
    END LOOP;
END $$;
