-- Escalation goes on up the grid hierarchy while a breached case stays
-- unhandled: one level at the breach, one more for every further SLA span.
ALTER TABLE case_file
    ADD COLUMN escalation_level integer NOT NULL DEFAULT 0,
    ADD COLUMN next_escalation_at timestamptz;
CREATE INDEX case_file_next_escalation ON case_file (next_escalation_at) WHERE next_escalation_at IS NOT NULL;
