-- On-post attendance: one row per worker shift, recomputed whole by the
-- attendance job whenever fixes of its device arrive (late backlogs included),
-- final once the shift has ended; `gridwatch attendance recompute` redoes a day.

CREATE TABLE attendance (
    worker          text NOT NULL,
    grid            text NOT NULL,
    shift_start     timestamptz NOT NULL,
    shift_end       timestamptz NOT NULL,
    day             date NOT NULL,               -- local date the shift starts on
    dev             text NOT NULL,
    on_post_minutes real NOT NULL,
    coverage        real NOT NULL CHECK (coverage BETWEEN 0 AND 1),
    verdict         text NOT NULL CHECK (verdict IN ('present', 'late', 'left_early', 'absent', 'suspect')),
    flags           text[] NOT NULL DEFAULT '{}',
    first_on_post   timestamptz,
    last_on_post    timestamptz,
    fixes           integer NOT NULL,
    on_post_now     boolean NOT NULL,            -- the debounced state after the last fix
    last_fix        timestamptz,
    final           boolean NOT NULL DEFAULT false,
    detail          jsonb,
    computed_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (worker, grid, shift_start)
);
CREATE INDEX attendance_day ON attendance (day, grid);
CREATE INDEX attendance_open ON attendance (shift_end) WHERE NOT final;

-- Live events for supervisors: a worker off post longer than the alert time
-- during a shift. Recomputation finds the same period again: stored once.
CREATE TABLE attendance_event (
    id          bigserial PRIMARY KEY,
    kind        text NOT NULL CHECK (kind IN ('off_post')),
    worker      text NOT NULL,
    grid        text NOT NULL,
    dev         text NOT NULL,
    shift_start timestamptz NOT NULL,
    since       timestamptz NOT NULL,
    until       timestamptz NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (worker, grid, shift_start, since)
);
CREATE INDEX attendance_event_created ON attendance_event (created_at);

-- How far the attendance job has read heartbeats, by arrival time.
CREATE TABLE attendance_cursor (
    id          boolean PRIMARY KEY DEFAULT true CHECK (id),
    received_at timestamptz NOT NULL
);
