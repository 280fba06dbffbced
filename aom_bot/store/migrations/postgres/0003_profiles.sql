-- Several AOM profiles (project + region) in one bot: each follow, subscription and channel
-- card remembers the profile it belongs to. Rows from before profiles existed were all made
-- for the environment's project, which is the profile named 'default'.
ALTER TABLE follows ADD COLUMN profile TEXT NOT NULL DEFAULT 'default';
ALTER TABLE subscriptions ADD COLUMN profile TEXT NOT NULL DEFAULT 'default';
ALTER TABLE channel_cards ADD COLUMN profile TEXT NOT NULL DEFAULT 'default';
