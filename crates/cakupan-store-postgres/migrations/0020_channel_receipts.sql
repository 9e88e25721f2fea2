-- A receipt of a payment through a channel partner is checked by its number (issue #19).
CREATE INDEX channel_payments_receipt ON channel_payments (receipt);
