-- Cakupan SQLite schema, version 1: regions and the participant registry.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

-- Kemendagri regions (data/regions), loaded on first start.
CREATE TABLE regions (
    code        TEXT PRIMARY KEY,
    parent_code TEXT,
    level       INTEGER NOT NULL CHECK (level BETWEEN 1 AND 4),
    name        TEXT NOT NULL,
    kind        TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX regions_parent ON regions (parent_code);

-- Number sequences (SQLite has no SEQUENCE); reserved in blocks inside write transactions.
CREATE TABLE sequences (
    name       TEXT PRIMARY KEY,
    next_value INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO sequences (name, next_value) VALUES ('participant', 1);

-- One row per participation: one NIK in one segment.
CREATE TABLE participants (
    id              INTEGER PRIMARY KEY,
    kpj             TEXT NOT NULL UNIQUE,
    -- The 16-digit NIK as a number: half the size of text in the unique index.
    nik             INTEGER NOT NULL,
    segment         TEXT NOT NULL CHECK (segment IN ('BPU', 'PU')),
    name            TEXT NOT NULL,
    birth_date      TEXT NOT NULL,
    sex             TEXT NOT NULL CHECK (sex IN ('L', 'P')),
    phone           TEXT,
    village_code    TEXT NOT NULL REFERENCES regions (code),
    occupation_code TEXT NOT NULL,
    sector          TEXT NOT NULL,
    income_base     INTEGER NOT NULL,
    programs        TEXT NOT NULL,
    registered_on   TEXT NOT NULL,
    channel         TEXT NOT NULL,
    agent_code      TEXT,
    review_flags    TEXT NOT NULL DEFAULT '',
    dukcapil_status TEXT NOT NULL DEFAULT 'unverified',
    created_at      TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    UNIQUE (nik, segment)
);
-- No index on village_code yet: coverage counts are kept as counters, and indexes are added
-- for the queries that need them, from measured plans.

-- Heirs (ahli waris), for JKM claims.
CREATE TABLE heirs (
    participant_id INTEGER NOT NULL REFERENCES participants (id),
    position       INTEGER NOT NULL,
    name           TEXT NOT NULL,
    relationship   TEXT NOT NULL,
    nik            TEXT,
    phone          TEXT,
    PRIMARY KEY (participant_id, position)
) WITHOUT ROWID;
