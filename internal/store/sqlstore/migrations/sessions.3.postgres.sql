-- The security token is a guard checked against the record, not a key:
-- its uniqueness (and the index that enforced it) goes. The cookie hash
-- index holds logged-in sessions only, so that a creation does not touch
-- it; per-account listing goes by (account, id), ids being time-ordered.
ALTER TABLE sessions DROP CONSTRAINT sessions_token_key;
ALTER TABLE sessions DROP CONSTRAINT sessions_cookie_hash_key;
CREATE UNIQUE INDEX sessions_cookie_hash ON sessions (cookie_hash) WHERE cookie_hash IS NOT NULL;
DROP INDEX sessions_account;
CREATE INDEX sessions_account ON sessions (account, id);
