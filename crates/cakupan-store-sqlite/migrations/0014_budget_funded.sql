-- Cakupan SQLite schema, version 14: a participation whose JKK and JKM are paid from the state
-- or a regional budget (APBN/APBD) gets no PP 50/2025 discount (art. 3); 1 when so.
ALTER TABLE participants ADD COLUMN budget_funded INTEGER NOT NULL DEFAULT 0;
