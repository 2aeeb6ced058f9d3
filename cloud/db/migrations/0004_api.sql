-- API: login throttling, the grid scope of users, and fast "what arrived lately" reads.

-- Failed logins per user name (also for names that do not exist, so a lockout
-- tells nothing about which names are real). A name is locked for a while after
-- too many failures in a row; a successful login deletes its row.
CREATE TABLE login_failure (
    name          text PRIMARY KEY,
    failures      integer NOT NULL DEFAULT 0,
    last_failure  timestamptz NOT NULL DEFAULT now(),
    locked_until  timestamptz
);
CREATE INDEX login_failure_last ON login_failure (last_failure);

-- The grid codes a user scoped to `root` may see: every scope check of the API
-- expands a user's scope through this one function. Until the grid hierarchy
-- exists a scope is its own code only; the migration that brings the grid
-- table replaces this body (CREATE OR REPLACE) with a walk down the hierarchy.
CREATE FUNCTION gw_grid_subtree(root text) RETURNS SETOF text
    LANGUAGE sql STABLE AS $$ SELECT root $$;

-- The live feed and the metrics read heartbeats by arrival time. Rows arrive in
-- nearly increasing received_at, which is what BRIN summarises well, at almost
-- no cost to the ingest (a btree here would slow every insert).
CREATE INDEX heartbeat_received_brin ON heartbeat USING brin (received_at) WITH (autosummarize = on);
