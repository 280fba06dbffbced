-- Exactly-once cards: finding a channel's earlier (also ended) follows of an execution.
CREATE INDEX follows_by_execution ON follows (channel_id, workflow_id, execution_id);
