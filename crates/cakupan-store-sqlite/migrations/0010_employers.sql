-- Cakupan SQLite schema, version 10: the employer channel (issue #7).

-- SQLite cannot change a CHECK constraint in place: `users` (a new role) and `postings` (a new
-- kind) are rebuilt with the same rows, ids and indexes. The foreign keys that point at
-- `users` are checked when this migration commits, against the rebuilt table.
PRAGMA defer_foreign_keys = ON;

CREATE TABLE users_v10 (
    id             INTEGER PRIMARY KEY,
    username       TEXT NOT NULL UNIQUE,
    password_hash  TEXT NOT NULL,
    role           TEXT NOT NULL CHECK (role IN ('admin', 'analyst', 'branch_officer', 'agent', 'village_official', 'participant', 'employer')),
    region         TEXT NOT NULL,
    agent_code     TEXT,
    disabled       INTEGER NOT NULL DEFAULT 0,
    created_at     INTEGER NOT NULL,
    nik_index      BLOB,
    -- Employers' staff: their employer's business registration number (NIB).
    employer_code  TEXT
);
INSERT INTO users_v10 (id, username, password_hash, role, region, agent_code, disabled, created_at, nik_index)
    SELECT id, username, password_hash, role, region, agent_code, disabled, created_at, nik_index FROM users;
DROP TABLE users;
ALTER TABLE users_v10 RENAME TO users;

-- Postings gain the kind 'stop': an employer reported the worker stopped from `first_month`
-- (`reason` holds the employer's NIB).
CREATE TABLE postings_v10 (
    id                INTEGER PRIMARY KEY,
    reference         TEXT NOT NULL UNIQUE,
    kind              TEXT NOT NULL CHECK (kind IN ('contribution', 'reversal', 'termination', 'stop')),
    participant_id    INTEGER NOT NULL REFERENCES participants (id),
    first_month       INTEGER,
    months            INTEGER,
    amount            INTEGER,
    channel           TEXT,
    paid_month        INTEGER,
    paid_on           TEXT,
    target_reference  TEXT,
    reason            TEXT,
    body              TEXT NOT NULL,
    received_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    collected_by      TEXT
);
INSERT INTO postings_v10 (id, reference, kind, participant_id, first_month, months, amount, channel, paid_month, paid_on, target_reference, reason, body, received_at, collected_by)
    SELECT id, reference, kind, participant_id, first_month, months, amount, channel, paid_month, paid_on, target_reference, reason, body, received_at, collected_by FROM postings;
DROP TABLE postings;
ALTER TABLE postings_v10 RENAME TO postings;
CREATE INDEX postings_participant ON postings (participant_id);
CREATE INDEX postings_collected_by ON postings (collected_by, id) WHERE collected_by IS NOT NULL;
CREATE INDEX postings_reversal ON postings (target_reference) WHERE kind = 'reversal';

-- Employers (pemberi kerja): known by their business registration number (NIB, 13 digits).
-- `contact` is sealed like participants' personal data (name, phone, e-mail of the contact
-- person).
CREATE TABLE employers (
    code           TEXT PRIMARY KEY,
    name           TEXT NOT NULL,
    size           TEXT NOT NULL CHECK (size IN ('micro', 'small', 'medium', 'large')),
    risk_class     INTEGER NOT NULL CHECK (risk_class BETWEEN 1 AND 5),
    region         TEXT NOT NULL,
    registered_on  TEXT NOT NULL,
    contact        BLOB,
    key_version    INTEGER NOT NULL
);
CREATE INDEX employers_region ON employers (region);

-- Who works where: a worker's PU participation with one employer from `since` to before
-- `until` (month indexes; `until` is the month of the reported stop). One open employment per
-- participation.
CREATE TABLE employments (
    participant_id  INTEGER NOT NULL REFERENCES participants (id),
    employer_code   TEXT NOT NULL REFERENCES employers (code),
    since           INTEGER NOT NULL,
    until           INTEGER,
    PRIMARY KEY (participant_id, employer_code, since)
);
CREATE INDEX employments_employer ON employments (employer_code, until);
CREATE UNIQUE INDEX employments_open ON employments (participant_id) WHERE until IS NULL;

-- One invoice per employer and month, made from its wage report. `fees_carried` are late fees
-- of earlier dues, billed with this month's contributions (DOMAIN.md §3.3). `report_hash`
-- recognises the same report sent again. Its payment code is its id with a check digit
-- (`employer::payment_code`). `settled_on` is the day payments covered all of it: the settled
-- invoices are the oldest ones, and only the others are read when a payment arrives.
CREATE TABLE invoices (
    id              INTEGER PRIMARY KEY,
    employer_code   TEXT NOT NULL REFERENCES employers (code),
    month           INTEGER NOT NULL,
    due_on          TEXT NOT NULL,
    risk_class      INTEGER NOT NULL,
    size            TEXT NOT NULL,
    fees_carried    INTEGER NOT NULL DEFAULT 0,
    total           INTEGER NOT NULL,
    report_hash     TEXT NOT NULL,
    lines_left_out  INTEGER NOT NULL DEFAULT 0,
    submitted_by    TEXT NOT NULL,
    submitted_at    INTEGER NOT NULL,
    settled_on      TEXT,
    UNIQUE (employer_code, month)
);
CREATE INDEX invoices_open ON invoices (employer_code, id) WHERE settled_on IS NULL;


-- The dues of one worker in an invoice. `paid_on` is the day the employer's payments,
-- applied oldest first, completed it (it is then in the ledger as INV{invoice}-{position});
-- `late_fee` what paying it after the due date cost, billed on invoice `fee_invoice_id`.
CREATE TABLE invoice_lines (
    invoice_id      INTEGER NOT NULL REFERENCES invoices (id),
    position        INTEGER NOT NULL,
    participant_id  INTEGER NOT NULL REFERENCES participants (id),
    wage            INTEGER NOT NULL,
    programs        TEXT NOT NULL,
    amount          INTEGER NOT NULL,
    employer_share  INTEGER NOT NULL,
    worker_share    INTEGER NOT NULL,
    paid_on         TEXT,
    late_fee        INTEGER NOT NULL DEFAULT 0,
    fee_invoice_id  INTEGER,
    PRIMARY KEY (invoice_id, position)
);
CREATE INDEX invoice_lines_participant ON invoice_lines (participant_id);
CREATE INDEX invoice_lines_unbilled_fee ON invoice_lines (invoice_id) WHERE late_fee > 0 AND fee_invoice_id IS NULL;

-- Money received from an employer (bank transfers against its payment codes), in the order
-- recorded; applied to the oldest dues first.
CREATE TABLE employer_payments (
    id              INTEGER PRIMARY KEY,
    reference       TEXT NOT NULL UNIQUE,
    employer_code   TEXT NOT NULL REFERENCES employers (code),
    amount          INTEGER NOT NULL CHECK (amount > 0),
    paid_on         TEXT NOT NULL,
    payment_code    TEXT,
    recorded_by     TEXT NOT NULL,
    recorded_at     INTEGER NOT NULL
);
CREATE INDEX employer_payments_employer ON employer_payments (employer_code, id);
