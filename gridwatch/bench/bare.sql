-- The bare pipeline's table: the same identity and index as heartbeat, nothing else.
CREATE TABLE IF NOT EXISTS bench_bare (
    dev text NOT NULL,
    seq bigint NOT NULL,
    ts  timestamptz NOT NULL,
    lat double precision NOT NULL,
    lon double precision NOT NULL,
    acc real NOT NULL,
    PRIMARY KEY (dev, ts, seq)
);
