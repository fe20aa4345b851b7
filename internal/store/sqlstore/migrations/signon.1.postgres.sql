-- One-time sign-on tickets (the phpMyAdmin sign-on): the SHA-256 of a
-- ticket, never the ticket; times are unix milliseconds.
CREATE TABLE signon_tickets (
	hash       bytea  NOT NULL PRIMARY KEY,
	session_id text   COLLATE "C" NOT NULL,
	expires_at bigint NOT NULL
);
CREATE INDEX signon_tickets_expires_at ON signon_tickets (expires_at);
COMMENT ON COLUMN signon_tickets.hash IS 'SHA-256 of the ticket';
COMMENT ON COLUMN signon_tickets.expires_at IS 'unix milliseconds';
