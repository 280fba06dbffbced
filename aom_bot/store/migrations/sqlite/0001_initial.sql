-- Follows, subscriptions, discovery memory and leases. Times are UTC ISO-8601 text in one
-- fixed format ("2024-01-02T03:04:05.000006Z"), so text comparison is time comparison.

CREATE TABLE subscriptions (
    id            INTEGER PRIMARY KEY,
    channel_id    TEXT    NOT NULL,
    workflow_id   TEXT    NOT NULL,
    workflow_name TEXT    NOT NULL,
    failures_only INTEGER NOT NULL CHECK (failures_only IN (0, 1)),
    mention       TEXT,
    created_by    TEXT    NOT NULL,
    created_at    TEXT    NOT NULL,
    UNIQUE (channel_id, workflow_id)
);
CREATE INDEX subscriptions_by_workflow ON subscriptions (workflow_id);
CREATE INDEX subscriptions_by_creator ON subscriptions (created_by);

CREATE TABLE follows (
    id                    INTEGER PRIMARY KEY,
    workflow_id           TEXT NOT NULL,
    execution_id          TEXT NOT NULL,
    channel_id            TEXT NOT NULL,
    message_ts            TEXT,
    started_by            TEXT,
    started_at            TEXT NOT NULL,
    deadline              TEXT NOT NULL,
    subscription_id       INTEGER REFERENCES subscriptions (id) ON DELETE SET NULL,
    mention               TEXT,
    state                 TEXT NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'ended')),
    end_reason            TEXT,
    ended_at              TEXT,
    fingerprint           TEXT,
    rendered_at           TEXT,
    unreachable_since     TEXT,
    completion_state      TEXT NOT NULL DEFAULT 'none'
                          CHECK (completion_state IN ('none', 'claimed', 'posted')),
    completion_owner      TEXT,
    completion_claimed_at TEXT,
    completion_ts         TEXT
);
-- at most one active follow of an execution per channel: duplicates return the existing one
CREATE UNIQUE INDEX follows_one_active
    ON follows (channel_id, workflow_id, execution_id) WHERE state = 'active';
CREATE INDEX follows_by_state ON follows (state, started_at);
CREATE INDEX follows_by_subscription ON follows (subscription_id);

CREATE TABLE follow_announcements (
    follow_id INTEGER NOT NULL REFERENCES follows (id) ON DELETE CASCADE,
    signature TEXT    NOT NULL,
    PRIMARY KEY (follow_id, signature)
);

CREATE TABLE seen_executions (
    workflow_id  TEXT NOT NULL,
    execution_id TEXT NOT NULL,
    seen_at      TEXT NOT NULL,
    PRIMARY KEY (workflow_id, execution_id)
);

CREATE TABLE watermarks (
    workflow_id TEXT PRIMARY KEY,
    at          TEXT NOT NULL
);

CREATE TABLE post_claims (
    channel_id   TEXT NOT NULL,
    workflow_id  TEXT NOT NULL,
    execution_id TEXT NOT NULL,
    claimed_at   TEXT NOT NULL,
    PRIMARY KEY (channel_id, workflow_id, execution_id)
);

CREATE TABLE leases (
    key        TEXT PRIMARY KEY,
    owner      TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
