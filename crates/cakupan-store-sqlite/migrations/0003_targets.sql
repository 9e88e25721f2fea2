-- Cakupan SQLite schema, version 3: coverage targets as records (issue #3).
-- One row per metric, segment ('' = all), region ('' = the nation) and month. `basis` says how
-- the value was set: stated, or allocated from the parent region's target and by what weight.
CREATE TABLE targets (
    metric          TEXT NOT NULL,
    segment         TEXT NOT NULL,
    region          TEXT NOT NULL,
    month           INTEGER NOT NULL,
    value           INTEGER NOT NULL CHECK (value >= 0),
    baseline_month  INTEGER,
    baseline_value  INTEGER,
    basis           TEXT NOT NULL,
    source          TEXT NOT NULL,
    set_at          TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    PRIMARY KEY (metric, segment, region, month)
) WITHOUT ROWID;
