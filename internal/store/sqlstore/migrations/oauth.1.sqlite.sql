-- OAuth 2.0 authorization codes and tokens (only their SHA-256 hashes).
-- Times are unix milliseconds. Each hangs off a session (session_id),
-- without a foreign key: the sessions may live in another store.
CREATE TABLE oauth_codes (
	hash         BLOB    NOT NULL PRIMARY KEY,
	session_id   TEXT    NOT NULL,
	client_id    TEXT    NOT NULL,
	redirect_uri TEXT    NOT NULL,
	challenge    TEXT    NOT NULL,
	used         INTEGER NOT NULL DEFAULT 0 CHECK (used IN (0, 1)),
	created_at   INTEGER NOT NULL,
	expires_at   INTEGER NOT NULL
) STRICT;
CREATE INDEX oauth_codes_session ON oauth_codes (session_id);
CREATE INDEX oauth_codes_expires_at ON oauth_codes (expires_at);
CREATE TABLE oauth_tokens (
	hash       BLOB    NOT NULL PRIMARY KEY,
	kind       TEXT    NOT NULL CHECK (kind IN ('access', 'refresh')),
	session_id TEXT    NOT NULL,
	client_id  TEXT    NOT NULL,
	grant_hash BLOB    NOT NULL,
	created_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX oauth_tokens_session ON oauth_tokens (session_id);
CREATE INDEX oauth_tokens_grant ON oauth_tokens (grant_hash);
CREATE INDEX oauth_tokens_expires_at ON oauth_tokens (expires_at);
