-- Reminders that keep people paying (issue #21).

-- Each participation's coverage state, kept beside the ledger in the same transaction as every
-- posting (and written at registration): the latest month paid by a non-reversed contribution
-- before any termination, and the month a termination took effect. Planning a day's reminders
-- reads this table by index, not the ledger person by person; `cakupan verify` compares it with
-- the ledger.
CREATE TABLE coverage_states (
    participant_id  BIGINT PRIMARY KEY,
    segment         TEXT NOT NULL,
    registered      INTEGER NOT NULL,
    last_paid       INTEGER,
    terminated      INTEGER
);
CREATE INDEX coverage_states_due ON coverage_states (segment, last_paid, registered)
    WHERE terminated IS NULL;
INSERT INTO coverage_states (participant_id, segment, registered, last_paid, terminated)
SELECT p.id, p.segment,
       CAST(substr(p.registered_on, 1, 4) AS INTEGER) * 12
           + CAST(substr(p.registered_on, 6, 2) AS INTEGER) - 1,
       (SELECT MAX(CASE WHEN tm.t IS NULL OR c.first_month + c.months - 1 < tm.t
                        THEN c.first_month + c.months - 1 ELSE tm.t - 1 END)
          FROM postings c
         WHERE c.participant_id = p.id AND c.kind = 'contribution'
           AND (tm.t IS NULL OR c.first_month < tm.t)
           AND NOT EXISTS (SELECT 1 FROM postings r WHERE r.participant_id = c.participant_id
                            AND r.kind = 'reversal' AND r.target_reference = c.reference)),
       tm.t
FROM participants p
LEFT JOIN (SELECT participant_id, MIN(first_month) AS t FROM postings
            WHERE kind = 'termination' GROUP BY participant_id) tm ON tm.participant_id = p.id;

-- Every reminder planned: one per subject (a participation 'P<id>' or an invoice 'I<id>'), rule
-- and month, which is its idempotency key. `arm` is the experiment's group (holdout: not
-- reminded). `status`: planned → sending (claimed, the SMS id recorded before the gateway is
-- called) → sent; `unknown` when a crash left it in doubt (never sent again); `failed`,
-- `no_phone`, `opted_out`; an agent task is `done` once its outcome is recorded; `simulated`
-- for the simulation's reminders, which no gateway carried.
CREATE TABLE reminders (
    id              INTEGER PRIMARY KEY,
    rule            TEXT NOT NULL,
    month           INTEGER NOT NULL,
    subject         TEXT NOT NULL,
    participant_id  BIGINT,
    invoice_id      BIGINT,
    employer_code   TEXT,
    region          TEXT NOT NULL,
    segment         TEXT NOT NULL,
    arm             TEXT NOT NULL CHECK (arm IN ('sms', 'agent', 'holdout')),
    agent_code      TEXT,
    planned_on      TEXT NOT NULL,
    planned_month   INTEGER NOT NULL,
    window_end      TEXT NOT NULL,
    pay_by          TEXT NOT NULL,
    status          TEXT NOT NULL,
    sms_id          BIGINT,
    sent_at         BIGINT,
    outcome         TEXT,
    outcome_at      BIGINT,
    outcome_by      TEXT,
    UNIQUE (subject, rule, month)
);
CREATE INDEX reminders_to_send ON reminders (id) WHERE status IN ('planned', 'sending') AND arm = 'sms';
CREATE INDEX reminders_person ON reminders (participant_id, planned_month);
CREATE INDEX reminders_tasks ON reminders (agent_code, id) WHERE arm = 'agent';
CREATE INDEX reminders_campaign ON reminders (rule, month);

-- Replies that reached the gateway's MO path: opt-outs, opt-ins and questions for the branch. The text
-- and the sender's number are sealed like participants' fields; `region` is the sender's
-- village when the number is a participant's ('' otherwise: head office's queue).
CREATE TABLE sms_replies (
    id              INTEGER PRIMARY KEY,
    received_at     BIGINT NOT NULL,
    participant_id  BIGINT,
    region          TEXT NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('stop', 'start', 'question')),
    phone           BLOB NOT NULL,
    text            BLOB NOT NULL,
    key_version     BIGINT NOT NULL,
    due_at          BIGINT NOT NULL,
    answered_at     BIGINT,
    answered_by     TEXT
);
CREATE INDEX sms_replies_open ON sms_replies (region, id) WHERE answered_at IS NULL;
