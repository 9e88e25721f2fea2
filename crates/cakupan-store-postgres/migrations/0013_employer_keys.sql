-- The employer's rows carry the employer's key (`employer_code`), so that on a distributed
-- cluster an employer's invoices, their lines and its payments share the employer's shard and
-- each of their unique and foreign keys includes it (docs/operations.md;
-- crates/cakupan-store-postgres/citus.toml). As in 0012, keys lead with the id they had, so
-- look-ups by id keep using them; on one node an id is still unique (its identity sequence).

-- An invoice line names its employer.
ALTER TABLE invoice_lines ADD COLUMN employer_code TEXT;
UPDATE invoice_lines l SET employer_code = i.employer_code FROM invoices i WHERE i.id = l.invoice_id;
ALTER TABLE invoice_lines ALTER COLUMN employer_code SET NOT NULL;

ALTER TABLE invoice_lines DROP CONSTRAINT invoice_lines_invoice_id_fkey;
ALTER TABLE invoices DROP CONSTRAINT invoices_pkey;
ALTER TABLE invoices ADD PRIMARY KEY (id, employer_code);
ALTER TABLE invoice_lines DROP CONSTRAINT invoice_lines_pkey;
ALTER TABLE invoice_lines ADD PRIMARY KEY (invoice_id, position, employer_code);
ALTER TABLE invoice_lines ADD CONSTRAINT invoice_lines_invoice_fkey
    FOREIGN KEY (invoice_id, employer_code) REFERENCES invoices (id, employer_code);

-- The person of a line is on the person's shard: the key to it goes. A line's participation
-- is one the same transaction read (an open employment) or registered, and participations are
-- never deleted (erasure seals the personal fields, the row stays).
ALTER TABLE invoice_lines DROP CONSTRAINT invoice_lines_participant_id_fkey;

-- A payment's reference (its retry key) stays unique across employers: it is claimed in
-- payment_references, keyed by the reference alone, in the payment's transaction. The
-- payment itself is found by reference and employer.
CREATE TABLE payment_references (
    reference       TEXT PRIMARY KEY,
    employer_code   TEXT NOT NULL
);
INSERT INTO payment_references (reference, employer_code)
    SELECT reference, employer_code FROM employer_payments;
ALTER TABLE employer_payments DROP CONSTRAINT employer_payments_reference_key;
ALTER TABLE employer_payments ADD CONSTRAINT employer_payments_reference_employer_key
    UNIQUE (reference, employer_code);
ALTER TABLE employer_payments DROP CONSTRAINT employer_payments_pkey;
ALTER TABLE employer_payments ADD PRIMARY KEY (id, employer_code);

-- One open employment per participation, kept on the person's shard: a row here while an
-- employment is open, written and removed in the transaction that opens or ends it. Its key
-- to the participation replaces the employment's own, which would cross shards.
CREATE TABLE open_employments (
    participant_id  BIGINT NOT NULL,
    nik_index       BYTEA NOT NULL,
    employer_code   TEXT NOT NULL,
    since           BIGINT NOT NULL,
    PRIMARY KEY (participant_id, nik_index),
    CONSTRAINT open_employments_person_fkey
        FOREIGN KEY (participant_id, nik_index) REFERENCES participants (id, nik_index)
);
INSERT INTO open_employments (participant_id, nik_index, employer_code, since)
    SELECT e.participant_id, p.nik_index, e.employer_code, e.since
    FROM employments e JOIN participants p ON p.id = e.participant_id
    WHERE e.until IS NULL;
DROP INDEX employments_open;
ALTER TABLE employments DROP CONSTRAINT employments_participant_id_fkey;

-- An agent (a small table copied to every node) cannot point into the participations: the
-- appointment reads the participation in its transaction instead, and participations are
-- never deleted.
ALTER TABLE agents DROP CONSTRAINT agents_participant_id_fkey;
