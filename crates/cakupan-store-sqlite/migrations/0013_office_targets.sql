-- Cakupan SQLite schema, version 13: each Kantor Perisai's monthly target (new participants
-- acquired by its agents), from a month on until a later row replaces it. An office below its
-- target for `office_months_below_target` consecutive months (rules/perisai.toml) loses its
-- agreement, and its agents their appointment (DOMAIN.md §5).
CREATE TABLE office_targets (
    office_code   TEXT NOT NULL REFERENCES offices (code),
    from_month    INTEGER NOT NULL,
    acquisitions  INTEGER NOT NULL CHECK (acquisitions >= 0),
    set_by        TEXT NOT NULL,
    PRIMARY KEY (office_code, from_month)
);
