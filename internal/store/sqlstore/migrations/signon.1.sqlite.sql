-- One-time sign-on tickets (the phpMyAdmin sign-on): the SHA-256 of a
-- ticket, never the ticket; times are unix milliseconds.
CREATE TABLE signon_tickets (
	hash       BLOB    NOT NULL PRIMARY KEY,
	session_id TEXT    NOT NULL,
	expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX signon_tickets_expires_at ON signon_tickets (expires_at);
