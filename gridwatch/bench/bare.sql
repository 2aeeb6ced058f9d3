-- The bare pipeline's table has heartbeat's shape: the same columns, day partitions
-- on ts (here only the DEFAULT one), primary key and BRIN on received_at. The
-- comparison is then between two pipelines writing the same rows, not between a
-- 17-column data model and a 6-column one (PostgreSQL's cost per row grows with it).
CREATE TABLE bench_bare (LIKE heartbeat INCLUDING DEFAULTS INCLUDING CONSTRAINTS,
                         PRIMARY KEY (dev, ts, seq)) PARTITION BY RANGE (ts);
CREATE TABLE bench_bare_default PARTITION OF bench_bare DEFAULT;
CREATE INDEX bench_bare_received_brin ON bench_bare USING brin (received_at) WITH (autosummarize = on);
