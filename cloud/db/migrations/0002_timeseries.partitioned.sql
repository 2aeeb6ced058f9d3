-- Time-series tables, natively range-partitioned by day on device time `ts`.
-- A DEFAULT partition catches rows outside the created days (late backlogs,
-- clocks far off) so nothing is ever refused for want of a partition; the
-- maintenance job moves them into proper partitions (gw_ensure_partitions).

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
) PARTITION BY RANGE (ts);
CREATE TABLE heartbeat_default PARTITION OF heartbeat DEFAULT;

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
) PARTITION BY RANGE (ts);
CREATE TABLE detection_default PARTITION OF detection DEFAULT;

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
) PARTITION BY RANGE (ts);
CREATE TABLE sensor_alert_default PARTITION OF sensor_alert DEFAULT;
