-- Cakupan PostgreSQL schema, version 3: one row per person (NIK), and coverage targets.
--
-- Every write that concerns a person locks their row first: registrations upsert it, postings
-- select it FOR UPDATE. Two transactions about the same NIK (a PU and a BPU registration, or a
-- registration and a payment) therefore run one after the other, and the second sees all the
-- first wrote: the overlap counters, which count each NIK once across segments, are computed
-- from every participation of the person. (SQLite has a single writer and needs no lock.)
CREATE TABLE people (
    nik BIGINT PRIMARY KEY
);
INSERT INTO people (nik) SELECT DISTINCT nik FROM participants;

-- Coverage targets as records (issue #3). One row per metric, segment ('' = all), region
-- ('' = the nation) and month. `basis` says how the value was set: stated, or allocated from
-- the parent region's target and by what weight.
CREATE TABLE targets (
    metric          TEXT NOT NULL,
    segment         TEXT NOT NULL,
    region          TEXT NOT NULL,
    month           INTEGER NOT NULL,
    value           BIGINT NOT NULL CHECK (value >= 0),
    baseline_month  INTEGER,
    baseline_value  BIGINT,
    basis           TEXT NOT NULL,
    source          TEXT NOT NULL,
    set_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (metric, segment, region, month)
);
