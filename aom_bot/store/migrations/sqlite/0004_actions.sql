-- Acting on executions (issue 13): the audit log, the exactly-once action ledger and
-- two-person requests. Times are UTC text in the store's fixed format.

-- Every attempted action and every refusal. Append-only: the triggers refuse UPDATE and
-- DELETE, and nothing in aom-bot prunes it.
CREATE TABLE audit_log (
    id                  INTEGER PRIMARY KEY,
    at                  TEXT NOT NULL,
    user_id             TEXT NOT NULL,
    user_name           TEXT NOT NULL,
    channel_id          TEXT NOT NULL,
    profile             TEXT NOT NULL,
    action              TEXT NOT NULL,
    workflow_id         TEXT NOT NULL,
    execution_id        TEXT,
    node_id             TEXT,
    outcome             TEXT NOT NULL,
    aom_request_id      TEXT,
    detail              TEXT NOT NULL DEFAULT '',
    result_execution_id TEXT
);
CREATE INDEX audit_log_by_time ON audit_log (at, id);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;

-- One row per action key: the first claim wins and sends the one AOM request.
-- outcome is NULL while the action is in flight.
CREATE TABLE actions (
    key                 TEXT PRIMARY KEY,
    kind                TEXT NOT NULL,
    profile             TEXT NOT NULL,
    workflow_id         TEXT NOT NULL,
    execution_id        TEXT,
    node_id             TEXT,
    requested_by        TEXT NOT NULL,
    user_name           TEXT NOT NULL,
    channel_id          TEXT NOT NULL,
    claimed_at          TEXT NOT NULL,
    outcome             TEXT,
    finished_at         TEXT,
    aom_request_id      TEXT,
    result_execution_id TEXT
);
CREATE INDEX actions_in_flight ON actions (claimed_at) WHERE outcome IS NULL;

-- Two-person requests: requested -> approved | cancelled | expired, decided once.
CREATE TABLE approvals (
    key          TEXT PRIMARY KEY,
    kind         TEXT NOT NULL,
    profile      TEXT NOT NULL,
    workflow_id  TEXT NOT NULL,
    execution_id TEXT,
    node_id      TEXT,
    requested_by TEXT NOT NULL,
    user_name    TEXT NOT NULL,
    channel_id   TEXT NOT NULL,
    message_ts   TEXT,
    requested_at TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    state        TEXT NOT NULL DEFAULT 'requested'
                 CHECK (state IN ('requested', 'approved', 'cancelled', 'expired')),
    decided_by   TEXT,
    decided_at   TEXT
);
CREATE INDEX approvals_open ON approvals (expires_at) WHERE state = 'requested';
