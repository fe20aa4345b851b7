-- A session layout built for the load: the table is keyed by the session
-- id, which uapid makes time-ordered, so that a new session is written at
-- the end of the table's B-tree (WITHOUT ROWID: the row lives in its
-- primary key, one B-tree instead of two). Of the indexes, only the login
-- hash is keyed by a random value; the cookie hash index holds logged-in
-- sessions only (a partial index: a creation does not touch it); expiry
-- and per-account listing ride on time-ordered keys. The security token
-- is a guard checked against the record, not a key: it has no index.
CREATE TABLE sessions_v3 (
	id           TEXT    NOT NULL PRIMARY KEY,
	user_name    TEXT    NOT NULL,
	account      TEXT    NOT NULL,
	service      TEXT    NOT NULL,
	token        TEXT    NOT NULL,
	login_hash   BLOB,
	consumed     INTEGER NOT NULL DEFAULT 0 CHECK (consumed IN (0, 1)),
	cookie_hash  BLOB,
	creator      TEXT    NOT NULL,
	method       TEXT    NOT NULL,
	origin       TEXT    NOT NULL,
	locale       TEXT    NOT NULL,
	return_url   TEXT    NOT NULL,
	temp_user    TEXT    NOT NULL,
	temp_pass    TEXT    NOT NULL,
	temp_created INTEGER NOT NULL DEFAULT 0 CHECK (temp_created IN (0, 1)),
	created_at   INTEGER NOT NULL,
	last_used    INTEGER NOT NULL,
	expires_at   INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
INSERT INTO sessions_v3 (id, user_name, account, service, token, login_hash, consumed, cookie_hash,
	creator, method, origin, locale, return_url, temp_user, temp_pass, temp_created,
	created_at, last_used, expires_at)
SELECT id, user_name, account, service, token, login_hash, consumed, cookie_hash,
	creator, method, origin, locale, return_url, temp_user, temp_pass, temp_created,
	created_at, last_used, expires_at FROM sessions;
DROP TABLE sessions;
ALTER TABLE sessions_v3 RENAME TO sessions;
CREATE UNIQUE INDEX sessions_login_hash ON sessions (login_hash) WHERE login_hash IS NOT NULL;
CREATE UNIQUE INDEX sessions_cookie_hash ON sessions (cookie_hash) WHERE cookie_hash IS NOT NULL;
CREATE INDEX sessions_expires_at ON sessions (expires_at);
CREATE INDEX sessions_account ON sessions (account, id);
