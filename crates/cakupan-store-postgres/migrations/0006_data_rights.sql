-- Cakupan schema, version 6: personal-data rights (issue #4, UU 27/2022).

-- Consent given or withdrawn, per person (by the NIK's blind index) and purpose, appended:
-- the latest event of a purpose is the current state, and every earlier one stays as proof.
CREATE TABLE consents (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    nik_index       BYTEA NOT NULL,
    purpose         TEXT NOT NULL,
    notice_version  TEXT NOT NULL,
    decision        TEXT NOT NULL CHECK (decision IN ('given', 'withdrawn')),
    at              BIGINT NOT NULL,
    channel         TEXT NOT NULL
);
CREATE INDEX consents_person ON consents (nik_index, purpose, id);

-- Requests to correct a participant's data, due within the legal period; the requested value
-- and the reason are sealed like the fields themselves.
CREATE TABLE corrections (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    participant_id  BIGINT NOT NULL REFERENCES participants (id),
    village_code    TEXT NOT NULL,
    field           TEXT NOT NULL,
    value           BYTEA NOT NULL,
    reason          BYTEA NOT NULL,
    requested_at    BIGINT NOT NULL,
    due_at          BIGINT NOT NULL,
    status          TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'done', 'refused'))
);
CREATE INDEX corrections_open ON corrections (status, village_code);

-- A participant's processing log is read by record.
CREATE INDEX audit_record ON audit (record, id);
