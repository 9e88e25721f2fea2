-- Cakupan PostgreSQL schema, version 15: the part of `lapsed` that left employment (an
-- employer's stop) rather than stopped paying, a flow counted in its month like `lapsed`. The
-- counters already stored are rebuilt from the ledger when a command next opens the database
-- (meta 'counters_rules' is not set yet), which fills it and applies the due-date rule of
-- DOMAIN.md §4.1 (Dec 2026).
ALTER TABLE counters ADD COLUMN left_employment BIGINT NOT NULL DEFAULT 0;
