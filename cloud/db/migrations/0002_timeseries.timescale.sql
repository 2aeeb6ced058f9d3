-- Time-series tables as TimescaleDB hypertables (1-day chunks on device time
-- `ts`), compressed per device. Retention and compression ages are applied
-- from settings by `gridwatch db migrate` (gw_apply_policies, migration 0003).
--
-- Minimum TimescaleDB 2.13: create_hypertable(..., by_range(...)) below is the
-- API introduced in 2.13, and the ingest's INSERT ... ON CONFLICT DO NOTHING
-- into compressed chunks needs 2.11 or later (earlier versions refuse it).
CREATE EXTENSION IF NOT EXISTS timescaledb;

DO $$
DECLARE
    version text := (SELECT extversion FROM pg_extension WHERE extname = 'timescaledb');
BEGIN
    IF string_to_array(split_part(version, '-', 1), '.')::int[] < '{2,13}' THEN
        RAISE EXCEPTION 'gridwatch needs TimescaleDB 2.13 or later; this database has %', version
            USING HINT = 'upgrade TimescaleDB, or migrate a new database with --mode partitioned';
    END IF;
END $$;

CREATE TABLE heartbeat (
    dev         text NOT NULL,
    seq         bigint NOT NULL,
    ts          timestamptz NOT NULL,
    received_at timestamptz NOT NULL,
    lat         double precision NOT NULL,
    lon         double precision NOT NULL,
    acc         real NOT NULL,
    spd         real,
    hdg         real,
    alt         real,
    batt        real,
    mock        boolean,
    sat         smallint,
    src         text,
    crs         text NOT NULL DEFAULT 'wgs84',
    grid        text,
    extra       jsonb,
    PRIMARY KEY (dev, ts, seq)
);
SELECT create_hypertable('heartbeat', by_range('ts', INTERVAL '1 day'));

CREATE TABLE detection (
    dev         text NOT NULL,
    seq         bigint NOT NULL,
    ts          timestamptz NOT NULL,
    received_at timestamptz NOT NULL,
    kind        text NOT NULL,
    score       real NOT NULL,
    box         real[] NOT NULL,
    cam         text,
    zone        text,
    track       text,
    lat         double precision,
    lon         double precision,
    snapshot    bytea,
    extra       jsonb,
    PRIMARY KEY (dev, ts, seq)
);
SELECT create_hypertable('detection', by_range('ts', INTERVAL '1 day'));

CREATE TABLE sensor_alert (
    dev         text NOT NULL,
    seq         bigint NOT NULL,
    ts          timestamptz NOT NULL,
    received_at timestamptz NOT NULL,
    sensor      text NOT NULL,
    value       double precision NOT NULL,
    unit        text NOT NULL,
    level       text NOT NULL,
    state       text NOT NULL,
    component   text,
    lat         double precision,
    lon         double precision,
    extra       jsonb,
    PRIMARY KEY (dev, ts, seq)
);
SELECT create_hypertable('sensor_alert', by_range('ts', INTERVAL '1 day'));

-- Compression: segment by device so a device's track decompresses alone.
ALTER TABLE heartbeat SET (timescaledb.compress, timescaledb.compress_segmentby = 'dev',
                           timescaledb.compress_orderby = 'ts, seq');
ALTER TABLE detection SET (timescaledb.compress, timescaledb.compress_segmentby = 'dev',
                           timescaledb.compress_orderby = 'ts, seq');
ALTER TABLE sensor_alert SET (timescaledb.compress, timescaledb.compress_segmentby = 'dev',
                              timescaledb.compress_orderby = 'ts, seq');
