-- Cases: every problem found becomes one case, owned by a department, with a
-- deadline, through the closed loop (CONTRACT section 6). The workflow is
-- guarded in SQL (UPDATE ... WHERE status = ANY(...)); history is append-only;
-- one open case per incident is an invariant of the database (partial unique
-- index on the incident cell), not of any process's memory.

-- City components (manhole covers, hydrants, cameras...), each owned by a department.
CREATE TABLE component (
    code        text PRIMARY KEY CHECK (length(code) BETWEEN 1 AND 64),
    kind        text NOT NULL CHECK (length(kind) BETWEEN 1 AND 64),
    department  text NOT NULL CHECK (length(department) BETWEEN 1 AND 128),
    lat         double precision NOT NULL CHECK (lat BETWEEN -90 AND 90),
    lon         double precision NOT NULL CHECK (lon BETWEEN -180 AND 180),
    name        text,
    imported_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX component_kind ON component (kind);

CREATE TABLE case_file (
    id             bigserial PRIMARY KEY,
    kind           text NOT NULL,
    status         text NOT NULL CHECK (status IN
                       ('reported', 'registered', 'dispatched', 'handled', 'verified', 'closed', 'rejected')),
    department     text NOT NULL,
    routed_by      text NOT NULL CHECK (routed_by IN ('component', 'catalog', 'territory', 'fallback')),
    component      text,
    grid           text,
    lat            double precision,
    lon            double precision,
    -- The incident key: kind plus the fine spatial cell of the first evidence
    -- (cells are small enough that two points in one cell are within the
    -- merge radius), or 'dev:<id>' when nothing gives a position.
    incident_cell  text NOT NULL,
    origin         text NOT NULL,          -- source:dev:seq of the first evidence
    confidence     real NOT NULL,
    opened_at      timestamptz NOT NULL,   -- when the problem was first seen (device time)
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    last_evidence_at timestamptz NOT NULL,
    evidence_count integer NOT NULL DEFAULT 1,
    sla_hours      double precision NOT NULL,
    round_the_clock boolean NOT NULL,
    warn_at        timestamptz NOT NULL,
    due_at         timestamptz NOT NULL,
    warned_at      timestamptz,
    overdue_at     timestamptz,
    escalated_to   text,                   -- grid code of the level the breach went up to
    handled_at     timestamptz,
    handled_by     text,
    verified_by    text,
    closed_at      timestamptz,
    reopen_count   integer NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX case_file_one_open_per_incident ON case_file (kind, incident_cell)
    WHERE status NOT IN ('closed', 'rejected');
CREATE INDEX case_file_nearby ON case_file (kind, lat) ;
CREATE INDEX case_file_status ON case_file (status, due_at);
CREATE INDEX case_file_grid ON case_file (grid);
CREATE INDEX case_file_department ON case_file (department);

-- Each piece of evidence, once: a detection, sensor alert or field report.
-- The snapshot or photo stays in its source row; (source, dev, ts, seq) points at it.
CREATE TABLE case_evidence (
    case_id    bigint NOT NULL REFERENCES case_file (id),
    source     text NOT NULL CHECK (source IN ('detection', 'sensor_alert', 'field_report')),
    dev        text NOT NULL,
    ts         timestamptz NOT NULL,
    seq        bigint NOT NULL,
    lat        double precision,
    lon        double precision,
    confidence real NOT NULL,
    track_key  text,
    note       text NOT NULL DEFAULT '',
    has_image  boolean NOT NULL DEFAULT false,
    added_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source, dev, ts, seq)
);
CREATE INDEX case_evidence_case ON case_evidence (case_id, ts);
CREATE INDEX case_evidence_track ON case_evidence (track_key, ts) WHERE track_key IS NOT NULL;

-- Append-only: every status change and clock event (warn, escalate, overdue).
CREATE TABLE case_history (
    id          bigserial PRIMARY KEY,
    case_id     bigint NOT NULL REFERENCES case_file (id),
    at          timestamptz NOT NULL DEFAULT now(),
    actor       text NOT NULL,
    action      text NOT NULL,
    from_status text,
    to_status   text,
    note        text NOT NULL DEFAULT ''
);
CREATE INDEX case_history_case ON case_history (case_id, id);
CREATE INDEX case_history_at ON case_history (at, id);

CREATE FUNCTION gw_case_history_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'case_history is append-only';
END $$;
CREATE TRIGGER case_history_no_change BEFORE UPDATE OR DELETE ON case_history
    FOR EACH ROW EXECUTE FUNCTION gw_case_history_append_only();

-- Department systems told of case changes: HMAC-SHA256 signed POSTs.
CREATE TABLE case_webhook (
    id         bigserial PRIMARY KEY,
    url        text NOT NULL CHECK (url ~ '^https?://'),
    secret     text NOT NULL CHECK (length(secret) >= 16),
    department text,                      -- NULL: every department
    active     boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Transactional outbox: a history row and its deliveries commit together.
CREATE TABLE case_outbox (
    id              bigserial PRIMARY KEY,
    webhook_id      bigint NOT NULL REFERENCES case_webhook (id) ON DELETE CASCADE,
    history_id      bigint NOT NULL REFERENCES case_history (id),
    body            jsonb NOT NULL,
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text,
    delivered_at    timestamptz,
    dead_at         timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX case_outbox_due ON case_outbox (next_attempt_at) WHERE delivered_at IS NULL AND dead_at IS NULL;

CREATE FUNCTION gw_case_history_outbox() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO case_outbox (webhook_id, history_id, body)
    SELECT w.id, NEW.id, jsonb_build_object(
        'event', NEW.action, 'history_id', NEW.id, 'at', NEW.at, 'actor', NEW.actor, 'note', NEW.note,
        'from', NEW.from_status, 'to', NEW.to_status,
        'case', jsonb_build_object('id', c.id, 'kind', c.kind, 'status', c.status, 'department', c.department,
                                   'grid', c.grid, 'lat', c.lat, 'lon', c.lon, 'opened_at', c.opened_at,
                                   'due_at', c.due_at, 'evidence_count', c.evidence_count,
                                   'escalated_to', c.escalated_to))
    FROM case_webhook w JOIN case_file c ON c.id = NEW.case_id
    WHERE w.active AND (w.department IS NULL OR w.department = c.department);
    RETURN NULL;
END $$;
CREATE TRIGGER case_history_to_outbox AFTER INSERT ON case_history
    FOR EACH ROW EXECUTE FUNCTION gw_case_history_outbox();
