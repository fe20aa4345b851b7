-- The ledger of temporary database users (never a password).
CREATE TABLE temp_users (
	name       TEXT    NOT NULL PRIMARY KEY,
	account    TEXT    NOT NULL,
	session_id TEXT    NOT NULL,
	created_at INTEGER NOT NULL
) STRICT;
CREATE INDEX temp_users_session ON temp_users (session_id);
