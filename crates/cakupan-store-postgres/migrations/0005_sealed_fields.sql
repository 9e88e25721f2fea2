-- Cakupan PostgreSQL schema, version 5: personal fields encrypted at rest (issue #4).
--
-- nik, name, birth_date, phone and income_base hold XChaCha20-Poly1305 ciphertexts bound to
-- their row and column (see cakupan_store::crypto); nik_index and phone_index are keyed blind
-- indexes (HMAC-SHA-256, 16 bytes) through which a NIK or phone is found; key_version says
-- which encryption key wrote the row (for `cakupan keys rotate`). Heirs and the people lock
-- rows likewise. The service refuses to run this migration on a database that already holds
-- participants in clear.
ALTER TABLE participants DROP CONSTRAINT participants_nik_segment_key;
ALTER TABLE participants
    ALTER COLUMN nik TYPE BYTEA USING NULL,
    ALTER COLUMN name TYPE BYTEA USING NULL,
    ALTER COLUMN birth_date TYPE BYTEA USING NULL,
    ALTER COLUMN phone TYPE BYTEA USING NULL,
    ALTER COLUMN income_base TYPE BYTEA USING NULL,
    ADD COLUMN nik_index BYTEA NOT NULL,
    ADD COLUMN phone_index BYTEA,
    ADD COLUMN key_version INTEGER NOT NULL;
ALTER TABLE participants ADD CONSTRAINT participants_nik_index_segment_key UNIQUE (nik_index, segment);
CREATE INDEX participants_phone ON participants (phone_index) WHERE phone_index IS NOT NULL;
CREATE INDEX participants_key_version ON participants (key_version);

ALTER TABLE heirs
    ALTER COLUMN name TYPE BYTEA USING NULL,
    ALTER COLUMN nik TYPE BYTEA USING NULL,
    ALTER COLUMN phone TYPE BYTEA USING NULL;

ALTER TABLE people ALTER COLUMN nik TYPE BYTEA USING NULL;
ALTER TABLE people RENAME COLUMN nik TO nik_index;

-- Participant accounts are tied to their person by the NIK's blind index, never the NIK.
ALTER TABLE users DROP COLUMN nik;
ALTER TABLE users ADD COLUMN nik_index BYTEA;
