-- OAuth 2.0 authorization codes and tokens (only their SHA-256 hashes).
-- Times are unix milliseconds. Each hangs off a session (session_id),
-- without a foreign key: the sessions may live in another store.
CREATE TABLE oauth_codes (
	hash         bytea   NOT NULL PRIMARY KEY,
	session_id   text    COLLATE "C" NOT NULL,
	client_id    text    NOT NULL,
	redirect_uri text    NOT NULL,
	challenge    text    NOT NULL,
	used         boolean NOT NULL DEFAULT false,
	created_at   bigint  NOT NULL,
	expires_at   bigint  NOT NULL
);
CREATE INDEX oauth_codes_session ON oauth_codes (session_id);
CREATE INDEX oauth_codes_expires_at ON oauth_codes (expires_at);
CREATE TABLE oauth_tokens (
	hash       bytea  NOT NULL PRIMARY KEY,
	kind       text   NOT NULL CHECK (kind IN ('access', 'refresh')),
	session_id text   COLLATE "C" NOT NULL,
	client_id  text   NOT NULL,
	grant_hash bytea  NOT NULL,
	created_at bigint NOT NULL,
	expires_at bigint NOT NULL
);
CREATE INDEX oauth_tokens_session ON oauth_tokens (session_id);
CREATE INDEX oauth_tokens_grant ON oauth_tokens (grant_hash);
CREATE INDEX oauth_tokens_expires_at ON oauth_tokens (expires_at);
COMMENT ON COLUMN oauth_codes.hash IS 'SHA-256 of the code';
COMMENT ON COLUMN oauth_tokens.hash IS 'SHA-256 of the token';
