-- Cakupan PostgreSQL schema, version 4: accounts, sessions and the audit log (issue #4).

-- People who sign in. `password_hash` is an Argon2id PHC string; there is no default account.
-- `region` is the root of the user's area ('' = the nation); agents carry their agent code,
-- participants their NIK.
CREATE TABLE users (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username       TEXT NOT NULL UNIQUE,
    password_hash  TEXT NOT NULL,
    role           TEXT NOT NULL CHECK (role IN ('admin', 'analyst', 'branch_officer', 'agent', 'village_official', 'participant')),
    region         TEXT NOT NULL,
    agent_code     TEXT,
    nik            TEXT,
    disabled       BOOLEAN NOT NULL DEFAULT false,
    created_at     BIGINT NOT NULL
);

-- Sessions: only the SHA-256 of each token is kept, so a copy of the database opens nothing.
CREATE TABLE sessions (
    token_hash  TEXT PRIMARY KEY,
    user_id     BIGINT NOT NULL REFERENCES users (id),
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);

-- Every read of personal data and every change, appended and hash-chained: `hash` is the
-- SHA-256 of the previous entry's hash and this entry's fields, so an edited, deleted or
-- reordered entry breaks the chain (`cakupan audit verify`). Appends take an advisory lock so
-- the chain has one order.
CREATE TABLE audit (
    id          BIGINT PRIMARY KEY,
    at          BIGINT NOT NULL,
    actor       TEXT NOT NULL,
    role        TEXT NOT NULL,
    action      TEXT NOT NULL,
    record      TEXT NOT NULL,
    request_id  TEXT NOT NULL,
    purpose     TEXT NOT NULL,
    prev_hash   TEXT NOT NULL,
    hash        TEXT NOT NULL
);
