-- Payment rails (issue #19): the channel partners (banks, aggregators, minimarket chains,
-- e-wallets, the post office), the SNAP requests they sent, the payments they recorded, the
-- settlements they reported and the exceptions reconciliation found. The same tables as
-- SQLite's migration 0017, so both run the same statements (cakupan-store/src/payments_sql.rs).

CREATE TABLE channel_partners (
    code                TEXT PRIMARY KEY,
    name                TEXT NOT NULL,
    kind                TEXT NOT NULL,
    settlement_account  TEXT NOT NULL,
    fee                 BIGINT NOT NULL CHECK (fee >= 0),
    -- Sealed like personal data (crypto::Keys::seal, bound to the partner's code).
    public_key          BYTEA NOT NULL,
    client_secret       BYTEA NOT NULL,
    active              BOOLEAN NOT NULL,
    added_by            TEXT NOT NULL,
    added_at            TEXT NOT NULL
);

-- X-EXTERNAL-ID is unique per partner and day (SNAP): claimed by each request that is answered.
CREATE TABLE snap_external_ids (
    partner_code    TEXT NOT NULL,
    day             TEXT NOT NULL,
    external_id     TEXT NOT NULL,
    PRIMARY KEY (partner_code, day, external_id)
);

CREATE TABLE channel_payments (
    id                  BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    partner_code        TEXT NOT NULL,
    payment_request_id  TEXT NOT NULL,
    virtual_account     TEXT NOT NULL,
    amount              BIGINT NOT NULL CHECK (amount > 0),
    paid_on             TEXT NOT NULL,
    trx_date_time       TEXT NOT NULL,
    partner_reference   TEXT NOT NULL,
    posting_reference   TEXT NOT NULL,
    participant_id      BIGINT,
    invoice_id          BIGINT,
    first_month         BIGINT,
    months              BIGINT,
    receipt             TEXT NOT NULL,
    reversed            BOOLEAN NOT NULL DEFAULT false,
    recorded_at         TEXT NOT NULL,
    UNIQUE (partner_code, payment_request_id)
);
CREATE INDEX channel_payments_day ON channel_payments (partner_code, paid_on);
CREATE INDEX channel_payments_va ON channel_payments (partner_code, virtual_account);

CREATE TABLE settlements (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    partner_code    TEXT NOT NULL,
    sha256          TEXT NOT NULL,
    format          TEXT NOT NULL,
    file_name       TEXT NOT NULL,
    lines           BIGINT NOT NULL,
    bad_lines       BIGINT NOT NULL,
    imported_by     TEXT NOT NULL,
    imported_at     TEXT NOT NULL,
    UNIQUE (partner_code, sha256)
);

CREATE TABLE settlement_lines (
    partner_code        TEXT NOT NULL,
    settlement_id       BIGINT NOT NULL,
    line_no             BIGINT NOT NULL,
    day                 TEXT NOT NULL,
    payment_request_id  TEXT NOT NULL,
    virtual_account     TEXT NOT NULL,
    amount              BIGINT NOT NULL,
    PRIMARY KEY (partner_code, settlement_id, line_no)
);
CREATE INDEX settlement_lines_request ON settlement_lines (partner_code, payment_request_id);
CREATE INDEX settlement_lines_day ON settlement_lines (partner_code, day);

-- What reconciliation could not match, and how branch finance resolved it.
CREATE TABLE payment_exceptions (
    id                  BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    partner_code        TEXT NOT NULL,
    day                 TEXT NOT NULL,
    kind                TEXT NOT NULL,
    payment_request_id  TEXT NOT NULL,
    virtual_account     TEXT NOT NULL,
    settled_amount      BIGINT,
    recorded_amount     BIGINT,
    settlement_id       BIGINT,
    line_no             BIGINT,
    region              TEXT NOT NULL,
    state               TEXT NOT NULL,
    action              TEXT,
    reason              TEXT,
    proposed_by         TEXT,
    proposed_at         TEXT,
    resolved_by         TEXT,
    resolved_at         TEXT,
    found_at            TEXT NOT NULL,
    UNIQUE (partner_code, kind, payment_request_id, day)
);
CREATE INDEX payment_exceptions_state ON payment_exceptions (state, partner_code, day);
