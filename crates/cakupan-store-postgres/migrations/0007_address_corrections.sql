-- Cakupan PostgreSQL schema, version 7: the domicile address (sealed like the other personal
-- fields) and the review of correction requests (issue #4).
ALTER TABLE participants ADD COLUMN address BYTEA;

-- A decided request: when, by whom (username), and the reviewer's note (sealed: it may repeat
-- personal data). status 'done' = applied to the record, 'refused' = not applied.
ALTER TABLE corrections ADD COLUMN decided_at BIGINT;
ALTER TABLE corrections ADD COLUMN decided_by TEXT;
ALTER TABLE corrections ADD COLUMN note BYTEA;
