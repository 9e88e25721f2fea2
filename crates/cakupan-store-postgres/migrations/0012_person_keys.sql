-- The person's rows carry the person's key (`nik_index`, the NIK's keyed blind index, which
-- never changes for a participation), so that on a distributed cluster every heir, posting,
-- correction and consent of a person shares the person's shard and each of their unique and
-- foreign keys includes it (docs/operations.md; crates/cakupan-store-postgres/citus.toml).
-- Keys lead with the id they had, so look-ups by id keep using them. On one node nothing
-- changes in behaviour: an id is still unique (its sequence), and so is every old key.

-- The target of the person-scoped foreign keys. The id leads: ids grow, so this index is only
-- ever appended to.
ALTER TABLE participants ADD CONSTRAINT participants_id_person_key UNIQUE (id, nik_index);

ALTER TABLE heirs ADD COLUMN nik_index BYTEA;
UPDATE heirs h SET nik_index = p.nik_index FROM participants p WHERE p.id = h.participant_id;
ALTER TABLE heirs ALTER COLUMN nik_index SET NOT NULL;
ALTER TABLE heirs DROP CONSTRAINT heirs_participant_id_fkey;
ALTER TABLE heirs DROP CONSTRAINT heirs_pkey;
ALTER TABLE heirs ADD PRIMARY KEY (participant_id, position, nik_index);
ALTER TABLE heirs ADD CONSTRAINT heirs_person_fkey
    FOREIGN KEY (participant_id, nik_index) REFERENCES participants (id, nik_index);

ALTER TABLE postings ADD COLUMN nik_index BYTEA;
UPDATE postings s SET nik_index = p.nik_index FROM participants p WHERE p.id = s.participant_id;
ALTER TABLE postings ALTER COLUMN nik_index SET NOT NULL;
ALTER TABLE postings DROP CONSTRAINT postings_participant_id_fkey;
ALTER TABLE postings DROP CONSTRAINT postings_pkey;
ALTER TABLE postings ADD PRIMARY KEY (id, nik_index);
ALTER TABLE postings ADD CONSTRAINT postings_person_fkey
    FOREIGN KEY (participant_id, nik_index) REFERENCES participants (id, nik_index);

ALTER TABLE corrections ADD COLUMN nik_index BYTEA;
UPDATE corrections c SET nik_index = p.nik_index FROM participants p WHERE p.id = c.participant_id;
ALTER TABLE corrections ALTER COLUMN nik_index SET NOT NULL;
ALTER TABLE corrections DROP CONSTRAINT corrections_participant_id_fkey;
ALTER TABLE corrections DROP CONSTRAINT corrections_pkey;
ALTER TABLE corrections ADD PRIMARY KEY (id, nik_index);
ALTER TABLE corrections ADD CONSTRAINT corrections_person_fkey
    FOREIGN KEY (participant_id, nik_index) REFERENCES participants (id, nik_index);

ALTER TABLE consents DROP CONSTRAINT consents_pkey;
ALTER TABLE consents ADD PRIMARY KEY (id, nik_index);
