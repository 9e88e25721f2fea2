-- Cakupan PostgreSQL schema, version 17: a participation whose JKK and JKM are paid from the
-- state or a regional budget (APBN/APBD) gets no PP 50/2025 discount (art. 3).
ALTER TABLE participants ADD COLUMN budget_funded BOOLEAN NOT NULL DEFAULT false;
