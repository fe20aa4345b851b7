-- Brute-force counters: failed attempts per subject (kind 'ip' or 'user'),
-- blocks with their strike counts, and trusted (user, address) pairs.
-- Times are unix milliseconds.
CREATE TABLE attempt_failures (
	kind      TEXT    NOT NULL,
	subject   TEXT    NOT NULL,
	failed_at INTEGER NOT NULL
);
CREATE INDEX attempt_failures_subject ON attempt_failures (kind, subject, failed_at);
CREATE INDEX attempt_failures_at ON attempt_failures (failed_at);

CREATE TABLE attempt_blocks (
	kind          TEXT    NOT NULL,
	subject       TEXT    NOT NULL,
	blocked_until INTEGER NOT NULL,
	strikes       INTEGER NOT NULL,
	forget_at     INTEGER NOT NULL,
	PRIMARY KEY (kind, subject)
);
CREATE INDEX attempt_blocks_forget ON attempt_blocks (forget_at);

CREATE TABLE attempt_trust (
	user_name     TEXT    NOT NULL,
	addr          TEXT    NOT NULL,
	trusted_until INTEGER NOT NULL,
	PRIMARY KEY (user_name, addr)
);
CREATE INDEX attempt_trust_until ON attempt_trust (trusted_until);
