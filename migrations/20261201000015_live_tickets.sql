-- One-use tickets for the live event stream (`GET /api/v1/events?ticket=…`). A browser's
-- EventSource cannot send an Authorization header; a ticket in the URL replaces the access
-- token there, so what proxy logs and history keep is useless within seconds and after one use.
-- A table rather than process memory: `pganalytics api` may run as several processes behind a
-- load balancer, and the ticket request and the stream may reach different ones.
-- Operational security state, not domain history (like auth_sessions): only a SHA-256 is kept.
CREATE TABLE auth_live_tickets
(
    -- SHA-256 of the ticket; the ticket itself is shown once, to the client that asked.
    ticket_hash bytea PRIMARY KEY,
    user_id     uuid        NOT NULL,
    -- When the access token the ticket was asked with expires: the stream opened with it
    -- closes then, as a request with that token would start failing.
    access_expires_at timestamptz NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    -- About 30 s after creation; a ticket past it is refused (and swept on the next issue).
    expires_at  timestamptz NOT NULL
);

-- The sweep of expired tickets on every issue.
CREATE INDEX auth_live_tickets_expires_at ON auth_live_tickets (expires_at);
