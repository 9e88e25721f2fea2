-- Account lifecycle (issue #17, item 8): sessions end after a time unused as well as at their
-- absolute end, and an account can be made to change its password at the next sign-in.
ALTER TABLE sessions ADD COLUMN last_seen_at BIGINT NOT NULL DEFAULT 0;
UPDATE sessions SET last_seen_at = created_at;
ALTER TABLE users ADD COLUMN must_change_password BOOLEAN NOT NULL DEFAULT false;
