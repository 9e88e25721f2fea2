-- Cakupan PostgreSQL schema, version 3: one row per person (NIK).
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
