-- Cakupan PostgreSQL schema, version 10: the employer channel (issue #7).

-- Employers' staff sign in with the role 'employer' and carry their employer's NIB.
ALTER TABLE users DROP CONSTRAINT users_role_check;
ALTER TABLE users ADD CONSTRAINT users_role_check
    CHECK (role IN ('admin', 'analyst', 'branch_officer', 'agent', 'village_official', 'participant', 'employer'));
ALTER TABLE users ADD COLUMN employer_code TEXT;

-- Postings gain the kind 'stop': an employer reported the worker stopped from `first_month`
-- (`reason` holds the employer's NIB). Existing rows satisfy the wider check already.
ALTER TABLE postings DROP CONSTRAINT postings_kind_check;
ALTER TABLE postings ADD CONSTRAINT postings_kind_check
    CHECK (kind IN ('contribution', 'reversal', 'termination', 'stop')) NOT VALID;
ALTER TABLE postings VALIDATE CONSTRAINT postings_kind_check;

-- Employers (pemberi kerja): known by their business registration number (NIB, 13 digits).
-- `contact` is sealed like participants' personal data (name, phone, e-mail of the contact
-- person).
CREATE TABLE employers (
    code           TEXT PRIMARY KEY,
    name           TEXT NOT NULL,
    size           TEXT NOT NULL CHECK (size IN ('micro', 'small', 'medium', 'large')),
    risk_class     BIGINT NOT NULL CHECK (risk_class BETWEEN 1 AND 5),
    region         TEXT COLLATE "C" NOT NULL,
    registered_on  TEXT NOT NULL,
    contact        BYTEA,
    key_version    BIGINT NOT NULL
);
CREATE INDEX employers_region ON employers (region);

-- Who works where: a worker's PU participation with one employer from `since` to before
-- `until` (month indexes; `until` is the month of the reported stop). One open employment per
-- participation.
CREATE TABLE employments (
    participant_id  BIGINT NOT NULL REFERENCES participants (id),
    employer_code   TEXT NOT NULL REFERENCES employers (code),
    since           BIGINT NOT NULL,
    until           BIGINT,
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
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    employer_code   TEXT NOT NULL REFERENCES employers (code),
    month           BIGINT NOT NULL,
    due_on          TEXT NOT NULL,
    risk_class      BIGINT NOT NULL,
    size            TEXT NOT NULL,
    fees_carried    BIGINT NOT NULL DEFAULT 0,
    total           BIGINT NOT NULL,
    report_hash     TEXT NOT NULL,
    lines_left_out  BIGINT NOT NULL DEFAULT 0,
    submitted_by    TEXT NOT NULL,
    submitted_at    BIGINT NOT NULL,
    settled_on      TEXT,
    UNIQUE (employer_code, month)
);
CREATE INDEX invoices_open ON invoices (employer_code, id) WHERE settled_on IS NULL;


-- The dues of one worker in an invoice. `paid_on` is the day the employer's payments,
-- applied oldest first, completed it (it is then in the ledger as INV{invoice}-{position});
-- `late_fee` what paying it after the due date cost, billed on invoice `fee_invoice_id`.
CREATE TABLE invoice_lines (
    invoice_id      BIGINT NOT NULL REFERENCES invoices (id),
    position        BIGINT NOT NULL,
    participant_id  BIGINT NOT NULL REFERENCES participants (id),
    wage            BIGINT NOT NULL,
    programs        TEXT NOT NULL,
    amount          BIGINT NOT NULL,
    employer_share  BIGINT NOT NULL,
    worker_share    BIGINT NOT NULL,
    paid_on         TEXT,
    late_fee        BIGINT NOT NULL DEFAULT 0,
    fee_invoice_id  BIGINT,
    PRIMARY KEY (invoice_id, position)
);
CREATE INDEX invoice_lines_participant ON invoice_lines (participant_id);
CREATE INDEX invoice_lines_unbilled_fee ON invoice_lines (invoice_id) WHERE late_fee > 0 AND fee_invoice_id IS NULL;

-- Money received from an employer (bank transfers against its payment codes), in the order
-- recorded; applied to the oldest dues first.
CREATE TABLE employer_payments (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    reference       TEXT NOT NULL UNIQUE,
    employer_code   TEXT NOT NULL REFERENCES employers (code),
    amount          BIGINT NOT NULL CHECK (amount > 0),
    paid_on         TEXT NOT NULL,
    payment_code    TEXT,
    recorded_by     TEXT NOT NULL,
    recorded_at     BIGINT NOT NULL
);
CREATE INDEX employer_payments_employer ON employer_payments (employer_code, id);
