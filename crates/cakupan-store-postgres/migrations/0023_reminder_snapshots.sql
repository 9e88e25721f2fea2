-- Reminders (issue #21), second part: indexes, and the snapshots the reports read.

-- The employer rules find the unpaid invoices falling due on a day by index, not by a scan.
CREATE INDEX invoices_falling_due ON invoices (due_on) WHERE settled_on IS NULL;

-- A day's reminders and how far their sending has gone (the reminders page), by index.
CREATE INDEX reminders_day ON reminders (planned_on);

-- Retention's lapses (BPU participations whose first non-active month is `month` and who have
-- not paid since) and how many of them were reminded (SMS or agent) in that month or the
-- policy's lookback before it, for every region of every level ('' the nation). Rewritten
-- whole by each day's planning from the coverage states, so that a dashboard reads a few rows by
-- key instead of the registry; `computed_at` says as of when.
CREATE TABLE lapse_counts (
    region          TEXT NOT NULL,
    month           INTEGER NOT NULL,
    lapsed          BIGINT NOT NULL,
    reminded        BIGINT NOT NULL,
    computed_at     BIGINT NOT NULL,
    PRIMARY KEY (region, month)
);

-- The experiment's counts (reminded and paid within the window, by rule, arm, segment and
-- province) of the campaigns whose window has closed, rewritten whole by each day's planning:
-- the report reads these few rows instead of every reminder and its ledger.
CREATE TABLE experiment_counts (
    rule            TEXT NOT NULL,
    arm             TEXT NOT NULL,
    segment         TEXT NOT NULL,
    province        TEXT NOT NULL,
    n               BIGINT NOT NULL,
    paid            BIGINT NOT NULL,
    computed_at     BIGINT NOT NULL,
    PRIMARY KEY (rule, arm, segment, province)
);
