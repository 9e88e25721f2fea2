-- The employer's rows, heirs and correction requests as PostgreSQL keeps them (its migrations
-- 0013, 0012), so that both databases run the same statements (crates/cakupan-store/src/*_sql.rs):
-- an invoice line names its employer, a payment's reference is claimed in payment_references,
-- a person's open employment has its row in open_employments, heirs and corrections carry
-- their person's key.

ALTER TABLE invoice_lines ADD COLUMN employer_code TEXT NOT NULL DEFAULT '';
UPDATE invoice_lines
   SET employer_code = (SELECT i.employer_code FROM invoices i WHERE i.id = invoice_lines.invoice_id);
-- The late fees not yet billed, read and claimed by employer.
CREATE INDEX invoice_lines_employer_unbilled ON invoice_lines (employer_code)
    WHERE late_fee > 0 AND fee_invoice_id IS NULL;

CREATE TABLE payment_references (
    reference       TEXT PRIMARY KEY,
    employer_code   TEXT NOT NULL
);
INSERT INTO payment_references (reference, employer_code)
    SELECT reference, employer_code FROM employer_payments;

CREATE TABLE open_employments (
    participant_id  INTEGER NOT NULL REFERENCES participants (id),
    nik_index       BLOB NOT NULL,
    employer_code   TEXT NOT NULL,
    since           INTEGER NOT NULL,
    PRIMARY KEY (participant_id, nik_index)
);
INSERT INTO open_employments (participant_id, nik_index, employer_code, since)
    SELECT e.participant_id, p.nik_index, e.employer_code, e.since
    FROM employments e JOIN participants p ON p.id = e.participant_id
    WHERE e.until IS NULL;

-- An heir's row carries its person's key, as on PostgreSQL (its migration 0012).
ALTER TABLE heirs ADD COLUMN nik_index BLOB;
UPDATE heirs SET nik_index = (SELECT p.nik_index FROM participants p WHERE p.id = heirs.participant_id);

-- A correction request carries its person's key, as on PostgreSQL (its migration 0012).
ALTER TABLE corrections ADD COLUMN nik_index BLOB;
UPDATE corrections SET nik_index = (SELECT p.nik_index FROM participants p WHERE p.id = corrections.participant_id);
