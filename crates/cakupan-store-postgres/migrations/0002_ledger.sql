-- Cakupan PostgreSQL schema, version 2: the append-only ledger and the coverage counters.

-- Every posting: contribution payments, reversals of payments, terminations. Never updated or
-- deleted; `reference` is the external idempotency key.
CREATE TABLE postings (
    id                BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    reference         TEXT NOT NULL UNIQUE,
    kind              TEXT NOT NULL CHECK (kind IN ('contribution', 'reversal', 'termination')),
    participant_id    BIGINT NOT NULL REFERENCES participants (id),
    -- contribution: first month covered (year * 12 + month - 1) and number of months;
    -- termination: the month it takes effect.
    first_month       INTEGER,
    months            INTEGER,
    amount            BIGINT,
    channel           TEXT,
    -- The month the money was received (index as above): where `amount` is counted.
    paid_month        INTEGER,
    paid_on           DATE,
    -- reversal: the reference of the contribution it reverses.
    target_reference  TEXT,
    reason            TEXT,
    -- The canonical content, compared when a reference is posted again.
    body              TEXT NOT NULL,
    received_at       TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX postings_participant ON postings (participant_id);

-- Counts per region × segment × month, kept as changes: state metrics (registered,
-- paid_active, status_active, nonactive) are read as the running sum up to a month; flows
-- (new, lapsed, reactivated, amount) as the month's own value. region '' is the nation.
CREATE TABLE counters (
    region        TEXT NOT NULL,
    level         SMALLINT NOT NULL,
    segment       TEXT NOT NULL,
    month         INTEGER NOT NULL,
    registered    BIGINT NOT NULL DEFAULT 0,
    paid_active   BIGINT NOT NULL DEFAULT 0,
    status_active BIGINT NOT NULL DEFAULT 0,
    nonactive     BIGINT NOT NULL DEFAULT 0,
    new           BIGINT NOT NULL DEFAULT 0,
    lapsed        BIGINT NOT NULL DEFAULT 0,
    reactivated   BIGINT NOT NULL DEFAULT 0,
    amount        BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (region, segment, month)
);
-- Reports read one level at a time, region by region: a covering index in that order lets
-- them sum without touching the table or sorting.
CREATE INDEX counters_level ON counters (level, region, segment, month, registered, paid_active, status_active, nonactive);
