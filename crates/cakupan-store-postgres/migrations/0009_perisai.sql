-- Cakupan PostgreSQL schema, version 9: the Perisai agent network (issue #6).

-- The agent who collected a contribution in cash (held until deposited); a reversal's own
-- date is kept in paid_on/paid_month (the month an agent's fee is clawed back).
ALTER TABLE postings ADD COLUMN collected_by TEXT;
CREATE INDEX postings_collected_by ON postings (collected_by, id) WHERE collected_by IS NOT NULL;
-- Whether a contribution was reversed, looked up by its reference (receipts, collections,
-- the planning of a batch of reversals).
CREATE INDEX postings_reversal ON postings (target_reference) WHERE kind = 'reversal';
-- An agent's worklist reads the participations they acquired.
CREATE INDEX participants_agent ON participants (agent_code) WHERE agent_code IS NOT NULL;

-- Kantor Perisai: partner offices with a cooperation agreement.
CREATE TABLE offices (
    code            TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('cooperative', 'foundation', 'business', 'community')),
    region          TEXT NOT NULL,
    agreement_from  TEXT NOT NULL,
    agreement_to    TEXT
);

-- Agents: each a registered BPU participant, appointed by an office, serving villages.
CREATE TABLE agents (
    code            TEXT PRIMARY KEY,
    office_code     TEXT NOT NULL REFERENCES offices (code),
    participant_id  BIGINT NOT NULL UNIQUE REFERENCES participants (id),
    home_village    TEXT NOT NULL,
    appointed       INTEGER NOT NULL
);
CREATE INDEX agents_office ON agents (office_code);
CREATE INDEX agents_home ON agents (home_village);
CREATE TABLE agent_villages (
    agent_code      TEXT NOT NULL REFERENCES agents (code),
    village_code    TEXT NOT NULL,
    PRIMARY KEY (agent_code, village_code)
);

-- What offices and branches recorded: reactivations and terminations (month as index).
CREATE TABLE agent_events (
    agent_code      TEXT NOT NULL REFERENCES agents (code),
    month           INTEGER NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('reactivated', 'terminated')),
    reason          TEXT NOT NULL DEFAULT '',
    recorded_by     TEXT NOT NULL,
    recorded_at     BIGINT NOT NULL,
    PRIMARY KEY (agent_code, month, kind)
);

-- Cash handed over: settles the agent's collections, oldest first.
CREATE TABLE deposits (
    reference       TEXT PRIMARY KEY,
    agent_code      TEXT NOT NULL REFERENCES agents (code),
    amount          BIGINT NOT NULL CHECK (amount > 0),
    deposited_on    TEXT NOT NULL,
    recorded_by     TEXT NOT NULL
);
CREATE INDEX deposits_agent ON deposits (agent_code);

-- Each agent's monthly figures, kept like the coverage counters: changed in the posting's own
-- transaction, recomputable from the ledger (`cakupan verify`). Keyed by code, so agents of
-- imported data count before they are in the directory.
CREATE TABLE agent_months (
    agent_code          TEXT NOT NULL,
    month               INTEGER NOT NULL,
    acquisitions        BIGINT NOT NULL DEFAULT 0,
    acquisitions_3      BIGINT NOT NULL DEFAULT 0,
    fee_base            BIGINT NOT NULL DEFAULT 0,
    fee_reversed        BIGINT NOT NULL DEFAULT 0,
    collections         BIGINT NOT NULL DEFAULT 0,
    collected           BIGINT NOT NULL DEFAULT 0,
    collected_reversed  BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (agent_code, month)
);

-- For postings stored before this version the store fills agent_months from the ledger when
-- it first opens the database (participants acquired by agents, no agent months yet).
