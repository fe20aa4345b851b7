-- Sessions as the first release created them. Times are unix
-- milliseconds; an absent hash is NULL (so UNIQUE ignores it).
CREATE TABLE sessions (
	id           TEXT    NOT NULL PRIMARY KEY,
	user         TEXT    NOT NULL,
	account      TEXT    NOT NULL,
	service      TEXT    NOT NULL,
	token        TEXT    NOT NULL UNIQUE,
	login_hash   BLOB    UNIQUE,
	consumed     INTEGER NOT NULL DEFAULT 0 CHECK (consumed IN (0, 1)),
	cookie_hash  BLOB    UNIQUE,
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
) STRICT;
CREATE INDEX sessions_expires_at ON sessions (expires_at);
CREATE INDEX sessions_account ON sessions (account, created_at);
