-- Cakupan SQLite schema, version 8: kept in step with PostgreSQL's version 8 (region codes
-- compare bytewise there); SQLite compares text bytewise already, so nothing changes here.
SELECT 1;
