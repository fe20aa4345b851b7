-- The ledger of temporary database users (never a password).
CREATE TABLE temp_users (
	name       text   COLLATE "C" NOT NULL PRIMARY KEY,
	account    text   NOT NULL,
	session_id text   COLLATE "C" NOT NULL,
	created_at bigint NOT NULL
);
CREATE INDEX temp_users_session ON temp_users (session_id);
