-- Cakupan SQLite schema, version 11: the village campaign and its surveys (issue #8).
--
-- Each record is one JSON document (`body`, see cakupan_store::campaigns and docs/formats.md),
-- keyed by the columns its queries need. A campaign is at most every village (83,762 rows);
-- responses are thousands per survey.

CREATE TABLE campaigns (
    code  TEXT PRIMARY KEY,
    body  TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE campaign_waves (
    campaign  TEXT NOT NULL REFERENCES campaigns (code),
    wave      INTEGER NOT NULL CHECK (wave > 0),
    body      TEXT NOT NULL,
    PRIMARY KEY (campaign, wave)
) WITHOUT ROWID;

-- One row per village of a campaign: a village is in one wave of it.
CREATE TABLE campaign_villages (
    campaign  TEXT NOT NULL,
    village   TEXT NOT NULL REFERENCES regions (code),
    wave      INTEGER NOT NULL,
    stage     TEXT NOT NULL CHECK (stage IN ('planned', 'coordinated', 'surveyed', 'held', 'followed_up')),
    body      TEXT NOT NULL,
    PRIMARY KEY (campaign, village),
    FOREIGN KEY (campaign, wave) REFERENCES campaign_waves (campaign, wave)
) WITHOUT ROWID;

CREATE TABLE campaign_sessions (
    reference  TEXT PRIMARY KEY,
    campaign   TEXT NOT NULL,
    village    TEXT NOT NULL,
    held_on    TEXT NOT NULL,
    body       TEXT NOT NULL,
    FOREIGN KEY (campaign, village) REFERENCES campaign_villages (campaign, village)
) WITHOUT ROWID;
CREATE INDEX campaign_sessions_village ON campaign_sessions (campaign, village, held_on);

CREATE TABLE questionnaires (
    code        TEXT NOT NULL,
    version     INTEGER NOT NULL CHECK (version > 0),
    retired_at  INTEGER,
    body        TEXT NOT NULL,
    PRIMARY KEY (code, version)
) WITHOUT ROWID;

CREATE TABLE surveys (
    code   TEXT PRIMARY KEY,
    questionnaire  TEXT NOT NULL,
    version        INTEGER NOT NULL,
    body   TEXT NOT NULL,
    FOREIGN KEY (questionnaire, version) REFERENCES questionnaires (code, version)
) WITHOUT ROWID;

-- The sampled units: a numbered person to interview in a stratum and village.
CREATE TABLE survey_units (
    survey          TEXT NOT NULL REFERENCES surveys (code),
    unit            INTEGER NOT NULL,
    stratum         TEXT NOT NULL,
    village         TEXT NOT NULL,
    participant_id  INTEGER,
    PRIMARY KEY (survey, unit)
) WITHOUT ROWID;

-- At most one response per unit: a respondent is counted once.
CREATE TABLE survey_responses (
    survey       TEXT NOT NULL,
    unit         INTEGER NOT NULL,
    upload       TEXT,
    body         TEXT NOT NULL,
    PRIMARY KEY (survey, unit),
    FOREIGN KEY (survey, unit) REFERENCES survey_units (survey, unit)
) WITHOUT ROWID;

CREATE TABLE survey_uploads (
    sha256  TEXT PRIMARY KEY,
    survey  TEXT NOT NULL REFERENCES surveys (code),
    body    TEXT NOT NULL
) WITHOUT ROWID;

-- The uplift reads registrations by village and date.
CREATE INDEX participants_village_registered ON participants (village_code, registered_on);
