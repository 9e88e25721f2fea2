-- The enrolment funnel's `paid` stage becomes a counter like the others (issue #22): a
-- self-registration is counted once, under its registration's ISO week and village, when its
-- first contribution is stored (`BatchState::first_paid_self_registrations`), instead of every
-- page counting the area's paid self-registrations from the registry. This fills the counter
-- for what is already stored (the week as `week_of` writes it: ISO year, "-W", ISO week) and
-- drops the index only that count used.
ALTER TABLE enrolment_funnel DROP CONSTRAINT enrolment_funnel_stage_check;
ALTER TABLE enrolment_funnel ADD CONSTRAINT enrolment_funnel_stage_check
    CHECK (stage IN ('started', 'verified', 'registered', 'paid'));

INSERT INTO enrolment_funnel (week, village_code, stage, n)
SELECT to_char(p.registered_on, 'IYYY-"W"IW'), p.village_code, 'paid', COUNT(*)
FROM participants p
WHERE p.channel = 'self'
  AND EXISTS (SELECT 1 FROM postings s WHERE s.participant_id = p.id AND s.kind = 'contribution')
GROUP BY 1, 2
ON CONFLICT (week, village_code, stage) DO UPDATE SET n = excluded.n;

DROP INDEX participants_self_village;
