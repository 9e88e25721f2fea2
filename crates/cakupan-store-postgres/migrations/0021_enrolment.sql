-- Workers enrol themselves and sign in with a code sent by SMS (issue #20).

-- One-time codes. The form that asked for a code carries a random key; only its SHA-256 is kept
-- here, and the code only as the SHA-256 of key and code, so a copy of this table opens nothing
-- (six digits alone would be guessed from their hash at once). `subject` is the keyed index of
-- what the code is for: the phone typed at registration or as a new number, the person's NIK
-- index at sign-in. No phone number and no NIK is stored.
CREATE TABLE one_time_codes (
    key_hash    TEXT PRIMARY KEY,
    purpose     TEXT NOT NULL CHECK (purpose IN ('register', 'sign_in', 'phone_old', 'phone_new')),
    subject     BYTEA NOT NULL,
    code_hash   TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    used_at     BIGINT
);
CREATE INDEX one_time_codes_expiry ON one_time_codes (expires_at);

-- Every SMS handed to the gateway and what its delivery reports said; neither the number nor
-- the text (which holds a code) is kept.
CREATE TABLE sms_messages (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    purpose     TEXT NOT NULL,
    sent_at     BIGINT NOT NULL,
    status      TEXT NOT NULL,
    status_at   BIGINT NOT NULL
);

-- The self-registration funnel: how many reached each step, by ISO week and village.
CREATE TABLE enrolment_funnel (
    week          TEXT NOT NULL,
    village_code  TEXT NOT NULL,
    stage         TEXT NOT NULL CHECK (stage IN ('started', 'verified', 'registered')),
    n             BIGINT NOT NULL,
    PRIMARY KEY (week, village_code, stage)
);

-- The NIK warnings of a registration (review_flags) are reviewed by the branch of its village:
-- cleared (or corrected) by whom and when.
ALTER TABLE participants ADD COLUMN reviewed_at BIGINT;
ALTER TABLE participants ADD COLUMN reviewed_by TEXT;
CREATE INDEX participants_to_review ON participants (village_code)
    WHERE review_flags <> '' AND reviewed_at IS NULL;
-- Self-registered participations by day, for the funnel's "first payment".
CREATE INDEX participants_self ON participants (registered_on) WHERE channel = 'self';
-- A participant's own account (signing in with a code) is found by the person's key.
CREATE INDEX users_nik_index ON users (nik_index) WHERE nik_index IS NOT NULL;
