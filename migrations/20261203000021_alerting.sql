-- Alerting (issue 17): read models of rules, alerts, their history, silences and channels
-- (written by the `alerting` projector, rebuilt by replay), and the notification outbox and
-- its delivery attempts (written by that projector once per transition and channel, never
-- truncated by a replay, so a replay neither loses nor repeats a notification).

CREATE TABLE rm_alert_rules
(
    id            uuid PRIMARY KEY,
    name          text        NOT NULL,
    -- The built-in rule this is (`pg_down` …); NULL for a user's rule.
    builtin       text,
    enabled       boolean     NOT NULL,
    -- 1 at creation, +1 per edit; alert events carry the version they evaluated.
    version       integer     NOT NULL,
    severity      text        NOT NULL,
    -- The RuleSpec as the API takes it.
    spec          jsonb       NOT NULL,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    last_sequence bigint      NOT NULL
);

CREATE TABLE rm_alerts
(
    id              uuid PRIMARY KEY,
    rule_id         uuid             NOT NULL,
    rule_name       text             NOT NULL,
    rule_version    integer          NOT NULL,
    severity        text             NOT NULL,
    -- pending / firing / resolved (a cleared pending alert is resolved too, never fired).
    state           text             NOT NULL,
    labels          jsonb            NOT NULL,
    value           double precision,
    summary         text             NOT NULL DEFAULT '',
    -- When the current state began.
    since           timestamptz      NOT NULL,
    fired_at        timestamptz,
    resolved_at     timestamptz,
    acknowledged_by text,
    acknowledged_at timestamptz,
    ack_comment     text,
    silenced_by     text,
    last_sequence   bigint           NOT NULL
);

-- The alerts page and the evaluator read the active ones; the rule page counts them.
CREATE INDEX rm_alerts_active ON rm_alerts (state) WHERE state <> 'resolved';
CREATE INDEX rm_alerts_rule ON rm_alerts (rule_id);

CREATE TABLE rm_alert_history
(
    alert_id     uuid             NOT NULL,
    sequence     bigint           NOT NULL,
    -- pending / firing / cleared / resolved / acknowledged
    event        text             NOT NULL,
    value        double precision,
    rule_version integer,
    at           timestamptz      NOT NULL,
    actor        text,
    detail       text,
    PRIMARY KEY (alert_id, sequence)
);

CREATE TABLE rm_silences
(
    id         uuid PRIMARY KEY,
    matchers   jsonb       NOT NULL,
    starts_at  timestamptz NOT NULL,
    ends_at    timestamptz NOT NULL,
    comment    text        NOT NULL,
    created_by text,
    created_at timestamptz NOT NULL
);

CREATE TABLE rm_notification_channels
(
    id           uuid PRIMARY KEY,
    name         text        NOT NULL,
    kind         text        NOT NULL,
    min_severity text        NOT NULL,
    enabled      boolean     NOT NULL,
    -- The ChannelSpec; never the secret, not even sealed (the dispatcher reads that from the
    -- event store).
    spec         jsonb       NOT NULL,
    has_secret   boolean     NOT NULL,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL
);

-- One row per (alert transition, channel): the unique key makes a redelivered or replayed
-- event add nothing.
CREATE TABLE notification_outbox
(
    id              bigserial PRIMARY KEY,
    alert_id        uuid        NOT NULL,
    alert_sequence  bigint      NOT NULL,
    channel_id      uuid        NOT NULL,
    -- firing / resolved
    kind            text        NOT NULL,
    -- What is sent, channel-neutral (the dispatcher formats it per channel).
    payload         jsonb       NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    -- pending / delivered / failed (gave up after the last retry; shown, never deleted)
    status          text        NOT NULL DEFAULT 'pending',
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    delivered_at    timestamptz,
    last_error      text,
    UNIQUE (alert_id, alert_sequence, channel_id)
);

-- The dispatcher's queue.
CREATE INDEX notification_outbox_due ON notification_outbox (next_attempt_at) WHERE status = 'pending';

CREATE TABLE notification_attempts
(
    outbox_id   bigint      NOT NULL REFERENCES notification_outbox (id) ON DELETE CASCADE,
    attempt     integer     NOT NULL,
    started_at  timestamptz NOT NULL,
    finished_at timestamptz NOT NULL,
    -- delivered / failed
    outcome     text        NOT NULL,
    detail      text,
    PRIMARY KEY (outbox_id, attempt)
);
