-- The last alert evaluation round, for /health: when it ran and which rules it could not
-- evaluate (a rule failing in silence is an alert that never fires).
CREATE TABLE alert_evaluation
(
    singleton   boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    at          timestamptz NOT NULL,
    finished_at timestamptz NOT NULL,
    rules       integer     NOT NULL,
    targets     integer     NOT NULL,
    transitions integer     NOT NULL,
    -- How long the round took (the alerts benchmark reads it).
    duration_ms integer     NOT NULL,
    -- ["rule name: why", ...]
    errors      jsonb       NOT NULL
);
