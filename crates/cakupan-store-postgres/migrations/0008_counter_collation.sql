-- Cakupan PostgreSQL schema, version 8: region codes compare bytewise.
--
-- Reports read the regions below one region as a range of the covering index
-- ("32.73." <= code < "32.73/"). Under a linguistic collation (en_US and the like) punctuation
-- is ignored at the first level and that range is not the subtree; "C" makes it exact and lets
-- the index serve it. (SQLite compares bytewise already.)
ALTER TABLE counters ALTER COLUMN region TYPE TEXT COLLATE "C";
