-- The search by name (issue #22): names are sealed, so each word of a participation's name is
-- kept as its blind index (HMAC-SHA-256 under the index key, domain "name word", 16 bytes),
-- beside the participation's village. A search reads the words typed, within the searcher's
-- region, as a range of this key. What it reveals is in docs/security.md.
CREATE TABLE name_words (
    word            BYTEA NOT NULL,
    region          TEXT NOT NULL,
    participant_id  BIGINT NOT NULL,
    PRIMARY KEY (word, region, participant_id)
);
-- A correction rewrites a participation's words: found by the participation.
CREATE INDEX name_words_participant ON name_words (participant_id);
