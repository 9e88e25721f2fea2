-- Cakupan PostgreSQL schema, version 1: regions and the participant registry.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- Kemendagri regions (data/regions), loaded on first start.
CREATE TABLE regions (
    code        TEXT PRIMARY KEY,
    parent_code TEXT,
    level       SMALLINT NOT NULL CHECK (level BETWEEN 1 AND 4),
    name        TEXT NOT NULL,
    kind        TEXT NOT NULL
);
CREATE INDEX regions_parent ON regions (parent_code);

-- Participant ids and KPJ numbers; nextval is not transactional, so a rolled-back
-- registration leaves a gap, as KPJ sequences may.
CREATE SEQUENCE participant_seq;

CREATE TABLE participants (
    id              BIGINT PRIMARY KEY,
    kpj             TEXT NOT NULL UNIQUE,
    -- The 16-digit NIK as a number: half the size of text in the unique index.
    nik             BIGINT NOT NULL,
    segment         TEXT NOT NULL CHECK (segment IN ('BPU', 'PU')),
    name            TEXT NOT NULL,
    birth_date      DATE NOT NULL,
    sex             TEXT NOT NULL CHECK (sex IN ('L', 'P')),
    phone           TEXT,
    village_code    TEXT NOT NULL REFERENCES regions (code),
    occupation_code TEXT NOT NULL,
    sector          TEXT NOT NULL,
    income_base     BIGINT NOT NULL,
    programs        TEXT NOT NULL,
    registered_on   DATE NOT NULL,
    channel         TEXT NOT NULL,
    agent_code      TEXT,
    review_flags    TEXT NOT NULL DEFAULT '',
    dukcapil_status TEXT NOT NULL DEFAULT 'unverified',
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (nik, segment)
);
-- No index on village_code yet: coverage counts are kept as counters, and indexes are added
-- for the queries that need them, from measured plans.

CREATE TABLE heirs (
    participant_id BIGINT NOT NULL REFERENCES participants (id),
    position       INTEGER NOT NULL,
    name           TEXT NOT NULL,
    relationship   TEXT NOT NULL,
    nik            TEXT,
    phone          TEXT,
    PRIMARY KEY (participant_id, position)
);
