-- Follows, subscriptions, discovery memory and leases. Unqualified names: the connection's
-- search_path (the store's schema option) decides where they live.

CREATE TABLE subscriptions (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    channel_id    TEXT        NOT NULL,
    workflow_id   TEXT        NOT NULL,
    workflow_name TEXT        NOT NULL,
    failures_only BOOLEAN     NOT NULL,
    mention       TEXT,
    created_by    TEXT        NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    UNIQUE (channel_id, workflow_id)
);
CREATE INDEX subscriptions_by_workflow ON subscriptions (workflow_id);
CREATE INDEX subscriptions_by_creator ON subscriptions (created_by);

CREATE TABLE follows (
    id                    BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workflow_id           TEXT        NOT NULL,
    execution_id          TEXT        NOT NULL,
    channel_id            TEXT        NOT NULL,
    message_ts            TEXT,
    started_by            TEXT,
    started_at            TIMESTAMPTZ NOT NULL,
    deadline              TIMESTAMPTZ NOT NULL,
    subscription_id       BIGINT REFERENCES subscriptions (id) ON DELETE SET NULL,
    mention               TEXT,
    state                 TEXT NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'ended')),
    end_reason            TEXT,
    ended_at              TIMESTAMPTZ,
    fingerprint           TEXT,
    rendered_at           TIMESTAMPTZ,
    unreachable_since     TIMESTAMPTZ,
    completion_state      TEXT NOT NULL DEFAULT 'none'
                          CHECK (completion_state IN ('none', 'claimed', 'posted')),
    completion_owner      TEXT,
    completion_claimed_at TIMESTAMPTZ,
    completion_ts         TEXT
);
-- at most one active follow of an execution per channel: duplicates return the existing one
CREATE UNIQUE INDEX follows_one_active
    ON follows (channel_id, workflow_id, execution_id) WHERE state = 'active';
CREATE INDEX follows_by_state ON follows (state, started_at);
CREATE INDEX follows_by_subscription ON follows (subscription_id);

CREATE TABLE follow_announcements (
    follow_id BIGINT NOT NULL REFERENCES follows (id) ON DELETE CASCADE,
    signature TEXT   NOT NULL,
    PRIMARY KEY (follow_id, signature)
);

CREATE TABLE seen_executions (
    workflow_id  TEXT        NOT NULL,
    execution_id TEXT        NOT NULL,
    seen_at      TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (workflow_id, execution_id)
);

CREATE TABLE watermarks (
    workflow_id TEXT PRIMARY KEY,
    at          TIMESTAMPTZ NOT NULL
);

CREATE TABLE post_claims (
    channel_id   TEXT        NOT NULL,
    workflow_id  TEXT        NOT NULL,
    execution_id TEXT        NOT NULL,
    claimed_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (channel_id, workflow_id, execution_id)
);

CREATE TABLE leases (
    key        TEXT PRIMARY KEY,
    owner      TEXT        NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);
