-- Cakupan SQLite schema, version 5: personal fields encrypted at rest (issue #4).
--
-- nik, name, birth_date, phone and income_base hold XChaCha20-Poly1305 ciphertexts bound to
-- their row and column (see cakupan_store::crypto); nik_index and phone_index are keyed blind
-- indexes (HMAC-SHA-256, 16 bytes) through which a NIK or phone is found; key_version says
-- which encryption key wrote the row (for `cakupan keys rotate`). Heirs likewise. The service
-- refuses to run this migration on a database that already holds participants in clear.
CREATE TABLE participants_sealed (
    id              INTEGER PRIMARY KEY,
    kpj             TEXT NOT NULL UNIQUE,
    nik_index       BLOB NOT NULL,
    segment         TEXT NOT NULL CHECK (segment IN ('BPU', 'PU')),
    nik             BLOB NOT NULL,
    name            BLOB NOT NULL,
    birth_date      BLOB NOT NULL,
    sex             TEXT NOT NULL CHECK (sex IN ('L', 'P')),
    phone           BLOB,
    phone_index     BLOB,
    village_code    TEXT NOT NULL REFERENCES regions (code),
    occupation_code TEXT NOT NULL,
    sector          TEXT NOT NULL,
    income_base     BLOB NOT NULL,
    programs        TEXT NOT NULL,
    registered_on   TEXT NOT NULL,
    channel         TEXT NOT NULL,
    agent_code      TEXT,
    review_flags    TEXT NOT NULL DEFAULT '',
    dukcapil_status TEXT NOT NULL DEFAULT 'unverified',
    key_version     INTEGER NOT NULL,
    created_at      TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    UNIQUE (nik_index, segment)
);
DROP TABLE heirs;
DROP TABLE participants;
ALTER TABLE participants_sealed RENAME TO participants;
CREATE INDEX participants_phone ON participants (phone_index) WHERE phone_index IS NOT NULL;
CREATE INDEX participants_key_version ON participants (key_version);

CREATE TABLE heirs (
    participant_id INTEGER NOT NULL REFERENCES participants (id),
    position       INTEGER NOT NULL,
    name           BLOB NOT NULL,
    relationship   TEXT NOT NULL,
    nik            BLOB,
    phone          BLOB,
    PRIMARY KEY (participant_id, position)
) WITHOUT ROWID;

-- Participant accounts are tied to their person by the NIK's blind index, never the NIK.
ALTER TABLE users DROP COLUMN nik;
ALTER TABLE users ADD COLUMN nik_index BLOB;
