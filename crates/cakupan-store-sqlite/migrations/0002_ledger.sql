-- Cakupan SQLite schema, version 2: the append-only ledger and the coverage counters.

-- Every posting: contribution payments, reversals of payments, terminations. Never updated or
-- deleted; `reference` is the external idempotency key.
CREATE TABLE postings (
    id                INTEGER PRIMARY KEY,
    reference         TEXT NOT NULL UNIQUE,
    kind              TEXT NOT NULL CHECK (kind IN ('contribution', 'reversal', 'termination')),
    participant_id    INTEGER NOT NULL REFERENCES participants (id),
    -- contribution: first month covered (year * 12 + month - 1) and number of months;
    -- termination: the month it takes effect.
    first_month       INTEGER,
    months            INTEGER,
    amount            INTEGER,
    channel           TEXT,
    -- The month the money was received (index as above): where `amount` is counted.
    paid_month        INTEGER,
    paid_on           TEXT,
    -- reversal: the reference of the contribution it reverses.
    target_reference  TEXT,
    reason            TEXT,
    -- The canonical content, compared when a reference is posted again.
    body              TEXT NOT NULL,
    received_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX postings_participant ON postings (participant_id);

-- Counts per region × segment × month, kept as changes: state metrics (registered,
-- paid_active, status_active, nonactive) are read as the running sum up to a month; flows
-- (new, lapsed, reactivated, amount) as the month's own value. region '' is the nation.
CREATE TABLE counters (
    region        TEXT NOT NULL,
    level         INTEGER NOT NULL,
    segment       TEXT NOT NULL,
    month         INTEGER NOT NULL,
    registered    INTEGER NOT NULL DEFAULT 0,
    paid_active   INTEGER NOT NULL DEFAULT 0,
    status_active INTEGER NOT NULL DEFAULT 0,
    nonactive     INTEGER NOT NULL DEFAULT 0,
    new           INTEGER NOT NULL DEFAULT 0,
    lapsed        INTEGER NOT NULL DEFAULT 0,
    reactivated   INTEGER NOT NULL DEFAULT 0,
    amount        INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (region, segment, month)
) WITHOUT ROWID;
-- Reports read one level at a time, region by region: a covering index in that order lets
-- them sum without touching the table or sorting.
CREATE INDEX counters_level ON counters (level, region, segment, month, registered, paid_active, status_active, nonactive);
