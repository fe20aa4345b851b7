-- Brute-force counters shared by every node: failed attempts per subject
-- (kind 'ip' or 'user'), blocks with their strike counts, and trusted
-- (user, address) pairs. Times are unix milliseconds.
CREATE TABLE attempt_failures (
	kind      text   COLLATE "C" NOT NULL,
	subject   text   COLLATE "C" NOT NULL,
	failed_at bigint NOT NULL
);
CREATE INDEX attempt_failures_subject ON attempt_failures (kind, subject, failed_at);
CREATE INDEX attempt_failures_at ON attempt_failures (failed_at);

CREATE TABLE attempt_blocks (
	kind          text    COLLATE "C" NOT NULL,
	subject       text    COLLATE "C" NOT NULL,
	blocked_until bigint  NOT NULL,
	strikes       integer NOT NULL,
	forget_at     bigint  NOT NULL,
	PRIMARY KEY (kind, subject)
);
CREATE INDEX attempt_blocks_forget ON attempt_blocks (forget_at);

CREATE TABLE attempt_trust (
	user_name     text   COLLATE "C" NOT NULL,
	addr          text   COLLATE "C" NOT NULL,
	trusted_until bigint NOT NULL,
	PRIMARY KEY (user_name, addr)
);
CREATE INDEX attempt_trust_until ON attempt_trust (trusted_until);
