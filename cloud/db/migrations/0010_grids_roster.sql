-- Grid registry (district > street > community > grid), rosters and the
-- working calendar. Geometry is kept as WGS-84 WKB for shapely (no PostGIS
-- needed) plus its GeoJSON for the API; point-in-grid runs in the ingest
-- processes on an STRtree built from these rows.

-- Bumped by every import, so long-running processes reload only on change.
CREATE TABLE registry_version (
    name       text PRIMARY KEY,          -- 'grid', 'alias', 'component', 'roster', 'catalog'
    version    bigint NOT NULL DEFAULT 0,
    changed_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO registry_version (name) VALUES ('grid'), ('alias'), ('component'), ('roster'), ('catalog');

CREATE TABLE grid (
    code        text PRIMARY KEY CHECK (length(code) BETWEEN 1 AND 64),
    name        text NOT NULL,
    level       text NOT NULL CHECK (level IN ('district', 'street', 'community', 'grid')),
    parent      text REFERENCES grid (code) DEFERRABLE INITIALLY DEFERRED,
    geom_wkb    bytea NOT NULL,           -- WGS-84 Polygon or MultiPolygon
    geojson     jsonb NOT NULL,           -- the same geometry as GeoJSON, WGS-84
    area_m2     double precision NOT NULL CHECK (area_m2 > 0),
    min_lon     double precision NOT NULL,
    min_lat     double precision NOT NULL,
    max_lon     double precision NOT NULL,
    max_lat     double precision NOT NULL,
    properties  jsonb,
    imported_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX grid_parent ON grid (parent);

-- Scope of a user: its grid and everything below it.
CREATE OR REPLACE FUNCTION gw_grid_subtree(root text) RETURNS SETOF text
    LANGUAGE sql STABLE AS $$
    WITH RECURSIVE sub(code) AS (
        SELECT root
        UNION
        SELECT g.code FROM grid g JOIN sub ON g.parent = sub.code
    )
    SELECT code FROM sub
$$;

-- One line of a roster file: a worker holds `grid` with handset `dev` on one
-- day (`day`) or weekly (`days_of_week`, 1 = Monday .. 7 = Sunday), from
-- start_local to end_local in zone `tz` (an end before the start runs past midnight).
CREATE TABLE roster_shift (
    id           bigserial PRIMARY KEY,
    worker       text NOT NULL CHECK (length(worker) BETWEEN 1 AND 64),
    dev          text NOT NULL,
    grid         text NOT NULL REFERENCES grid (code),
    day          date,
    days_of_week smallint[] CHECK (days_of_week <@ ARRAY[1,2,3,4,5,6,7]::smallint[]),
    start_local  time NOT NULL,
    end_local    time NOT NULL,
    tz           text NOT NULL,
    imported_at  timestamptz NOT NULL DEFAULT now(),
    CHECK ((day IS NULL) <> (days_of_week IS NULL))
);
CREATE INDEX roster_shift_worker ON roster_shift (worker);
CREATE INDEX roster_shift_dev ON roster_shift (dev);
CREATE INDEX roster_shift_grid ON roster_shift (grid);

-- Exceptions to the default working week (weekdays working): holidays and
-- make-up working days. The hours of a working day come from settings.
CREATE TABLE calendar_day (
    day     date PRIMARY KEY,
    working boolean NOT NULL,
    note    text
);
