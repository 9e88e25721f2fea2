-- The enrolment funnel's `paid` stage becomes a counter like the others (issue #22): a
-- self-registration is counted once, under its registration's ISO week and village, when its
-- first contribution is stored (`BatchState::first_paid_self_registrations`), instead of every
-- page counting the area's paid self-registrations from the registry. This fills the counter
-- for what is already stored (the week as `week_of` writes it: ISO year, "-W", ISO week) and
-- drops the index only that count used. `%G` and `%V` (ISO year and week) need SQLite 3.46 or
-- later: the one built into the binary (`sqlite-bundled`); an older one gives NULL, which the
-- table refuses, so the migration stops rather than count under no week.
-- SQLite cannot change a CHECK constraint: the table is made again with `paid` allowed.
CREATE TABLE enrolment_funnel_new (
    week          TEXT NOT NULL,
    village_code  TEXT NOT NULL,
    stage         TEXT NOT NULL CHECK (stage IN ('started', 'verified', 'registered', 'paid')),
    n             BIGINT NOT NULL,
    PRIMARY KEY (week, village_code, stage)
);
INSERT INTO enrolment_funnel_new (week, village_code, stage, n)
SELECT week, village_code, stage, n FROM enrolment_funnel;
DROP TABLE enrolment_funnel;
ALTER TABLE enrolment_funnel_new RENAME TO enrolment_funnel;

INSERT INTO enrolment_funnel (week, village_code, stage, n)
SELECT strftime('%G-W%V', p.registered_on), p.village_code, 'paid', COUNT(*)
FROM participants p
WHERE p.channel = 'self'
  AND EXISTS (SELECT 1 FROM postings s WHERE s.participant_id = p.id AND s.kind = 'contribution')
GROUP BY 1, 2
ON CONFLICT (week, village_code, stage) DO UPDATE SET n = excluded.n;

DROP INDEX participants_self_village;
