-- The last keys that did not include their table's distribution column (citus.toml): a
-- participation's id and a posting's reference must each be unique across every person. Each
-- is claimed in a table keyed by it alone (distributed by it on a cluster), written by the
-- same statement as the row it guards; the rows themselves keep keys that include the person.

-- A participation's id, and which person's shard holds it: the route for look-ups by id and by
-- KPJ (the KPJ is the id with a check digit, `Kpj::sequence`).
CREATE TABLE participant_ids (
    id          BIGINT PRIMARY KEY,
    nik_index   BYTEA NOT NULL
);
INSERT INTO participant_ids (id, nik_index) SELECT id, nik_index FROM participants;

-- The participation's key is now (id, nik_index) (participants_id_person_key, 0012), which
-- every person-scoped foreign key already points to; the id alone is unique in
-- participant_ids. The KPJ needs no index of its own: it is derived from the id and read
-- through it.
ALTER TABLE participants DROP CONSTRAINT participants_pkey;
ALTER TABLE participants DROP CONSTRAINT participants_kpj_key;

-- A posting's reference (its retry key), claimed across people.
CREATE TABLE posting_references (
    reference   TEXT PRIMARY KEY,
    nik_index   BYTEA NOT NULL
);
INSERT INTO posting_references (reference, nik_index) SELECT reference, nik_index FROM postings;
ALTER TABLE postings DROP CONSTRAINT postings_reference_key;
ALTER TABLE postings ADD CONSTRAINT postings_reference_person_key UNIQUE (reference, nik_index);
