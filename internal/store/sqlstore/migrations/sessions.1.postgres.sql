-- Sessions as the first release created them. Times are unix
-- milliseconds; an absent hash is NULL (so UNIQUE ignores it).
CREATE TABLE sessions (
	id           text    COLLATE "C" NOT NULL PRIMARY KEY,
	user_name    text    COLLATE "C" NOT NULL,
	account      text    COLLATE "C" NOT NULL,
	service      text    NOT NULL,
	token        text    COLLATE "C" NOT NULL UNIQUE,
	login_hash   bytea   UNIQUE,
	consumed     boolean NOT NULL DEFAULT false,
	cookie_hash  bytea   UNIQUE,
	creator      text    NOT NULL,
	method       text    NOT NULL,
	origin       text    NOT NULL,
	locale       text    NOT NULL,
	return_url   bytea   NOT NULL,
	temp_user    text    NOT NULL,
	temp_pass    bytea   NOT NULL,
	temp_created boolean NOT NULL DEFAULT false,
	created_at   bigint  NOT NULL,
	last_used    bigint  NOT NULL,
	expires_at   bigint  NOT NULL
);
CREATE INDEX sessions_expires_at ON sessions (expires_at);
CREATE INDEX sessions_account ON sessions (account, created_at, id);
COMMENT ON COLUMN sessions.return_url IS 'secretbox-sealed (AES-GCM); empty when none';
COMMENT ON COLUMN sessions.temp_pass IS 'secretbox-sealed (AES-GCM); empty when none';
COMMENT ON COLUMN sessions.expires_at IS 'unix milliseconds';
