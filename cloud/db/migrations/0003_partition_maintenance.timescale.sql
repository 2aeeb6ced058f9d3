-- Maintenance of the time-series tables, TimescaleDB storage mode.
--
-- Same functions and result shapes as the .partitioned.sql twin (read its
-- header), so cloud/db/partitions.py calls one API whatever the mode. Here
-- TimescaleDB does the work: chunks appear on insert, retention and
-- compression run as its background jobs (gw_apply_policies sets them up from
-- settings), and gw_drop_expired_partitions drops expired chunks at once so
-- the hourly job reports the same thing in both modes.
--
-- Requires TimescaleDB >= 2.13 (checked by 0002). Written against the 2.13+
-- documentation and NOT RUN by the test suite: no TimescaleDB package exists
-- for the build machines (FIELD-NOTES). The compression API used here is the
-- pre-2.18 one (add_compression_policy); 2.18 renamed it "columnstore" and
-- keeps the old names working.

-- The time-series tables to look after; a later migration adding a hypertable
-- registers it here.
CREATE TABLE timeseries_table (
    table_name text PRIMARY KEY
);
INSERT INTO timeseries_table (table_name) VALUES ('heartbeat'), ('detection'), ('sensor_alert');

-- One maintenance run at a time across every gridwatch process; same lock as
-- the partitioned twin.
CREATE FUNCTION gw_maintenance_lock() RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    caller_timeout text := current_setting('lock_timeout');
BEGIN
    PERFORM set_config('lock_timeout', '0', true);
    PERFORM pg_advisory_xact_lock(x'67726964'::int, 3);
    PERFORM set_config('lock_timeout', caller_timeout, true);
END $$;

-- The registered tables, checked to be hypertables.
CREATE FUNCTION gw_timeseries_tables() RETURNS SETOF regclass
LANGUAGE plpgsql STABLE AS $$
DECLARE
    name text;
BEGIN
    FOR name IN SELECT r.table_name FROM timeseries_table r ORDER BY r.table_name LOOP
        IF NOT EXISTS (SELECT 1 FROM timescaledb_information.hypertables h
                       WHERE format('%I.%I', h.hypertable_schema, h.hypertable_name)::regclass
                             = to_regclass(name)) THEN
            RAISE EXCEPTION 'time-series table % is missing or not a hypertable', name
                USING HINT = 'fix the migration that registered it in timeseries_table';
        END IF;
        RETURN NEXT to_regclass(name);
    END LOOP;
END $$;

-- Chunks are created by TimescaleDB on insert, late backlogs included: nothing
-- to prepare. Defined so that callers need not know the storage mode.
CREATE FUNCTION gw_ensure_partitions(days_back int, days_ahead int)
RETURNS TABLE (relation text, action text, row_count bigint)
LANGUAGE sql AS $$
    SELECT NULL::text, NULL::text, NULL::bigint WHERE false
$$;

-- Same as in the partitioned twin.
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

-- Retention now: drop_chunks drops the chunks lying entirely before the cutoff
-- (the rule of the background retention policy), then dead letters and expired
-- tokens are pruned. Returns one row per chunk ('dropped') or per hypertable
-- left for the next run ('skipped: lock timeout'), and per table rows were
-- deleted from ('deleted', count).
CREATE FUNCTION gw_drop_expired_partitions(retention_days int)
RETURNS TABLE (relation text, action text, row_count bigint)
LANGUAGE plpgsql AS $$
DECLARE
    cutoff timestamptz := now() - make_interval(days => retention_days);
    t regclass;
    dropped text[];
BEGIN
    PERFORM gw_maintenance_lock();
    FOR t IN SELECT gw_timeseries_tables() LOOP
        BEGIN
            -- Collected first: rows returned inside the block would survive its rollback.
            dropped := ARRAY(SELECT drop_chunks(t, older_than => cutoff));
        EXCEPTION WHEN lock_not_available THEN
            RETURN QUERY SELECT t::text, 'skipped: lock timeout'::text, NULL::bigint;
            CONTINUE;
        END;
        RETURN QUERY SELECT chunk, 'dropped'::text, NULL::bigint FROM unnest(dropped) AS chunk;
    END LOOP;
    RETURN QUERY SELECT * FROM gw_prune_expired_rows(cutoff) e WHERE e.row_count > 0;
END $$;

-- Sets one policy of a hypertable to `age` unless it is already there. An
-- existing policy with another age is removed and added again: add_*_policy
-- with if_not_exists only warns, and changes nothing, when the age differs.
-- Returns whether anything changed.
CREATE FUNCTION gw_set_policy(hypertable regclass, kind text, age interval) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    proc text := CASE kind WHEN 'retention' THEN 'policy_retention' ELSE 'policy_compression' END;
    key text := CASE kind WHEN 'retention' THEN 'drop_after' ELSE 'compress_after' END;
    current_age interval;
BEGIN
    SELECT (j.config ->> key)::interval INTO current_age
    FROM timescaledb_information.jobs j
    WHERE j.proc_name = proc
      AND format('%I.%I', j.hypertable_schema, j.hypertable_name)::regclass = hypertable;
    IF current_age = age THEN
        RETURN false;
    END IF;
    IF kind = 'retention' THEN
        PERFORM remove_retention_policy(hypertable, if_exists => true);
        PERFORM add_retention_policy(hypertable, drop_after => age, if_not_exists => true);
    ELSE
        PERFORM remove_compression_policy(hypertable, if_exists => true);
        PERFORM add_compression_policy(hypertable, compress_after => age, if_not_exists => true);
    END IF;
    RETURN true;
END $$;

-- Retention and compression policies from settings, on every registered
-- hypertable (compression only where it is enabled, as 0002 does for the
-- three built-in tables). Idempotent; returns one row per policy changed.
CREATE FUNCTION gw_apply_policies(retention_days int, compress_after_days int)
RETURNS TABLE (relation text, action text, row_count bigint)
LANGUAGE plpgsql AS $$
DECLARE
    t regclass;
BEGIN
    PERFORM gw_maintenance_lock();
    FOR t IN SELECT gw_timeseries_tables() LOOP
        relation := t::text;
        row_count := NULL;
        IF gw_set_policy(t, 'retention', make_interval(days => retention_days)) THEN
            action := format('retention policy: drop after %s days', retention_days);
            RETURN NEXT;
        END IF;
        IF (SELECT h.compression_enabled FROM timescaledb_information.hypertables h
            WHERE format('%I.%I', h.hypertable_schema, h.hypertable_name)::regclass = t)
           AND gw_set_policy(t, 'compression', make_interval(days => compress_after_days)) THEN
            action := format('compression policy: compress after %s days', compress_after_days);
            RETURN NEXT;
        END IF;
    END LOOP;
END $$;

-- Per registered hypertable: its chunks, TimescaleDB's row estimate, and the
-- first and last UTC day with a chunk. default_rows is NULL: a hypertable has
-- no DEFAULT partition.
CREATE FUNCTION gw_partition_report()
RETURNS TABLE (table_name text, partitions int, rows_estimate bigint, default_rows bigint,
               oldest_day date, newest_day date)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    t regclass;
BEGIN
    FOR t IN SELECT gw_timeseries_tables() LOOP
        table_name := t::text;
        default_rows := NULL;
        rows_estimate := approximate_row_count(t);
        SELECT count(*)::int,
               min((ch.range_start AT TIME ZONE 'UTC')::date),
               max(((ch.range_end - interval '1 microsecond') AT TIME ZONE 'UTC')::date)
          INTO partitions, oldest_day, newest_day
          FROM timescaledb_information.chunks ch
         WHERE format('%I.%I', ch.hypertable_schema, ch.hypertable_name)::regclass = t;
        RETURN NEXT;
    END LOOP;
END $$;
