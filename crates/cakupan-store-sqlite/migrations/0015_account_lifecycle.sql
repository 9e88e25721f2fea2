-- Account lifecycle (issue #17, item 8): sessions end after a time unused as well as at their
-- absolute end, and an account can be made to change its password at the next sign-in.
ALTER TABLE sessions ADD COLUMN last_seen_at INTEGER NOT NULL DEFAULT 0;
UPDATE sessions SET last_seen_at = created_at;
ALTER TABLE users ADD COLUMN must_change_password INTEGER NOT NULL DEFAULT 0;
-- A TOTP second factor (RFC 6238): the secret sealed like personal data, the last time step
-- used (a code is good once), and one-time recovery codes, kept hashed.
ALTER TABLE users ADD COLUMN totp_secret BLOB;
ALTER TABLE users ADD COLUMN totp_last_step INTEGER NOT NULL DEFAULT 0;
CREATE TABLE recovery_codes (
    user_id    INTEGER NOT NULL REFERENCES users (id),
    code_hash  TEXT NOT NULL,
    used_at    INTEGER,
    PRIMARY KEY (user_id, code_hash)
) WITHOUT ROWID;
