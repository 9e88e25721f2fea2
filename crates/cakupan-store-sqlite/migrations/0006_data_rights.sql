-- Cakupan schema, version 6: personal-data rights (issue #4, UU 27/2022).

-- Consent given or withdrawn, per person (by the NIK's blind index) and purpose, appended:
-- the latest event of a purpose is the current state, and every earlier one stays as proof.
CREATE TABLE consents (
    id              INTEGER PRIMARY KEY,
    nik_index       BLOB NOT NULL,
    purpose         TEXT NOT NULL,
    notice_version  TEXT NOT NULL,
    decision        TEXT NOT NULL CHECK (decision IN ('given', 'withdrawn')),
    at              INTEGER NOT NULL,
    channel         TEXT NOT NULL
);
CREATE INDEX consents_person ON consents (nik_index, purpose, id);

-- Requests to correct a participant's data, due within the legal period; the requested value
-- and the reason are sealed like the fields themselves.
CREATE TABLE corrections (
    id              INTEGER PRIMARY KEY,
    participant_id  INTEGER NOT NULL REFERENCES participants (id),
    village_code    TEXT NOT NULL,
    field           TEXT NOT NULL,
    value           BLOB NOT NULL,
    reason          BLOB NOT NULL,
    requested_at    INTEGER NOT NULL,
    due_at          INTEGER NOT NULL,
    status          TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'done', 'refused'))
);
CREATE INDEX corrections_open ON corrections (status, village_code);

-- A participant's processing log is read by record.
CREATE INDEX audit_record ON audit (record, id);
