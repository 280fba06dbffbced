-- Exactly-once cards. Who posts a follow's card while its ts is not known yet:
ALTER TABLE follows ADD COLUMN card_owner TEXT;
ALTER TABLE follows ADD COLUMN card_claimed_at TEXT;
-- finding a channel's earlier (also ended) follows of an execution:
CREATE INDEX follows_by_execution ON follows (channel_id, workflow_id, execution_id);

-- The card a plain show posted in a channel, so identical requests at once share one card.
CREATE TABLE channel_cards (
    channel_id   TEXT NOT NULL,
    workflow_id  TEXT NOT NULL,
    execution_id TEXT NOT NULL,
    message_ts   TEXT,
    claimed_at   TEXT NOT NULL,
    refreshed_at TEXT,
    PRIMARY KEY (channel_id, workflow_id, execution_id)
);
