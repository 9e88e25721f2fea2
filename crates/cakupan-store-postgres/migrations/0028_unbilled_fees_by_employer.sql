-- Issue #23, item 0: an employer's unbilled late fees (summed by every wage report, and marked
-- billed by its next invoice) are found through the employer's key, as SQLite has done since
-- its migration 0016. The index they used (by invoice) made both statements read every
-- unbilled fee in the country and keep the employer's.
CREATE INDEX invoice_lines_employer_unbilled ON invoice_lines (employer_code)
    WHERE late_fee > 0 AND fee_invoice_id IS NULL;
DROP INDEX invoice_lines_unbilled_fee;
