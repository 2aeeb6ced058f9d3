-- Core registry, users, dead letters and delivery receipts.

CREATE TABLE schema_meta (
    key   text PRIMARY KEY,
    value text NOT NULL
);

CREATE TABLE device (
    dev          text PRIMARY KEY CHECK (dev ~ '^[a-z0-9][a-z0-9_-]{0,63}$'),
    kind         text CHECK (kind IN ('handset', 'camera', 'sensor')),
    registered   boolean NOT NULL DEFAULT false,
    lat          double precision CHECK (lat BETWEEN -90 AND 90),
    lon          double precision CHECK (lon BETWEEN -180 AND 180),
    broker_password_hash text,
    online       boolean,
    state_ts     timestamptz,
    first_seen   timestamptz,
    last_seen    timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now()
);

-- Outside clients (OwnTracks user/device, Frigate camera) mapped to a device.
CREATE TABLE device_alias (
    alias text PRIMARY KEY CHECK (alias ~ '^(owntracks|frigate|osmand):.+'),
    dev   text NOT NULL REFERENCES device (dev) ON DELETE CASCADE
);
CREATE INDEX device_alias_dev ON device_alias (dev);

CREATE TABLE app_user (
    id            bigserial PRIMARY KEY,
    name          text NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 64),
    password_hash text NOT NULL,
    role          text NOT NULL CHECK (role IN ('admin', 'supervisor', 'operator')),
    scope_grid    text,
    department    text,
    disabled      boolean NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- Opaque bearer tokens: only their SHA-256 is stored, so a database leak does not leak sessions.
CREATE TABLE api_token (
    token_hash bytea PRIMARY KEY,
    user_id    bigint NOT NULL REFERENCES app_user (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);
CREATE INDEX api_token_expires ON api_token (expires_at);

-- Everything the ingest could not store as data: kept with its reason, never dropped.
CREATE TABLE dead_letter (
    id          bigserial PRIMARY KEY,
    received_at timestamptz NOT NULL,
    topic       text NOT NULL,
    payload     bytea NOT NULL,
    reason      text NOT NULL,
    detail      text NOT NULL DEFAULT '',
    dev         text,
    seq         bigint
);
CREATE INDEX dead_letter_received ON dead_letter (received_at);
CREATE INDEX dead_letter_dev ON dead_letter (dev, received_at);

-- Delivery receipts. Every committed message's (dev, kind, seq), stored or
-- dead-lettered, lands in the ledger as a run [lo, hi]; the cursor is the
-- highest seq below which nothing is missing. Runs at or below the cursor are
-- deleted as it advances, so the ledger holds only what waits behind a gap.
CREATE TABLE receipt_cursor (
    dev        text NOT NULL,
    kind       text NOT NULL,
    seq        bigint NOT NULL DEFAULT -1,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (dev, kind)
);

CREATE TABLE seq_ledger (
    dev  text NOT NULL,
    kind text NOT NULL,
    lo   bigint NOT NULL,
    hi   bigint NOT NULL CHECK (hi >= lo)
);
CREATE INDEX seq_ledger_run ON seq_ledger (dev, kind, lo);

CREATE TABLE field_report (
    dev         text NOT NULL,
    seq         bigint NOT NULL,
    ts          timestamptz NOT NULL,
    received_at timestamptz NOT NULL,
    lat         double precision NOT NULL,
    lon         double precision NOT NULL,
    kind        text NOT NULL,
    text        text NOT NULL,
    photo       bytea,
    resolved    boolean NOT NULL DEFAULT false,
    extra       jsonb,
    PRIMARY KEY (dev, ts, seq)
);

CREATE TABLE device_state_event (
    dev         text NOT NULL,
    ts          timestamptz NOT NULL,
    received_at timestamptz NOT NULL,
    online      boolean NOT NULL,
    extra       jsonb,
    PRIMARY KEY (dev, ts, online)
);
