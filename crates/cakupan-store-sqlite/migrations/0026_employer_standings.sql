-- Issue #23, item 4: each employer's standing as a row, kept by every transaction that reports
-- or pays (the end of `settle_in`), as the coverage counters are kept by every posting. The
-- employers' lists read these rows and the open invoices of the employers they show, instead
-- of summing every invoice, payment, line and employment of the area at each request.
-- `open_due` is the earliest due date of an invoice not yet settled: an employer can be in
-- arrears on a day only if it is before that day, so the arrears list reads only those rows.
CREATE TABLE employer_standings (
    employer_code  TEXT PRIMARY KEY REFERENCES employers (code),
    region         TEXT NOT NULL,
    workers        BIGINT NOT NULL,
    billed         BIGINT NOT NULL,
    paid           BIGINT NOT NULL,
    consumed       BIGINT NOT NULL,
    unbilled_fees  BIGINT NOT NULL,
    last_month     BIGINT,
    open_due       TEXT
);
CREATE INDEX employer_standings_open_due ON employer_standings (open_due, region)
    WHERE open_due IS NOT NULL;

-- The list by name reads the first rows of this index rather than sorting the area.
CREATE INDEX employers_name ON employers (name, code);

-- The rows of the employers already stored (the same computation as
-- `cakupan_store::employers::STANDING_SELECT`).
INSERT INTO employer_standings (employer_code, region, workers, billed, paid, consumed,
                                unbilled_fees, last_month, open_due)
SELECT e.code, e.region,
       (SELECT COUNT(*) FROM employments x WHERE x.employer_code = e.code AND x.until IS NULL),
       (SELECT CAST(COALESCE(SUM(i.total), 0) AS BIGINT) FROM invoices i WHERE i.employer_code = e.code),
       (SELECT CAST(COALESCE(SUM(p.amount), 0) AS BIGINT) FROM employer_payments p WHERE p.employer_code = e.code),
       (SELECT CAST(COALESCE(SUM(i.total), 0) AS BIGINT) FROM invoices i
         WHERE i.employer_code = e.code AND i.settled_on IS NOT NULL),
       (SELECT CAST(COALESCE(SUM(l.late_fee), 0) AS BIGINT) FROM invoice_lines l
         WHERE l.employer_code = e.code AND l.late_fee > 0 AND l.fee_invoice_id IS NULL),
       (SELECT MAX(i.month) FROM invoices i WHERE i.employer_code = e.code),
       (SELECT MIN(i.due_on) FROM invoices i WHERE i.employer_code = e.code AND i.settled_on IS NULL)
  FROM employers e;
