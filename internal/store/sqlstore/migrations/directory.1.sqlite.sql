-- The directory as the first release created it (kept as it was applied).
CREATE TABLE directory_state (
	id                 INTEGER PRIMARY KEY CHECK (id = 1),
	root_password_hash TEXT    NOT NULL DEFAULT '',
	generation         INTEGER NOT NULL DEFAULT 1
);
INSERT INTO directory_state (id) VALUES (1);

CREATE TABLE directory_accounts (
	user          TEXT    PRIMARY KEY,
	password_hash TEXT    NOT NULL,
	locale        TEXT    NOT NULL,
	owner         TEXT    NOT NULL,
	reseller      INTEGER NOT NULL,
	suspended     INTEGER NOT NULL,
	created_at    INTEGER NOT NULL
);
CREATE INDEX directory_accounts_owner ON directory_accounts (owner);

CREATE TABLE directory_domains (
	domain   TEXT    PRIMARY KEY,
	account  TEXT    NOT NULL REFERENCES directory_accounts (user) ON DELETE CASCADE,
	position INTEGER NOT NULL
);
CREATE INDEX directory_domains_account ON directory_domains (account);

CREATE TABLE directory_databases (
	account  TEXT    NOT NULL REFERENCES directory_accounts (user) ON DELETE CASCADE,
	name     TEXT    NOT NULL,
	position INTEGER NOT NULL,
	PRIMARY KEY (account, name)
);

CREATE TABLE directory_mailboxes (
	address         TEXT    PRIMARY KEY,
	account         TEXT    NOT NULL REFERENCES directory_accounts (user) ON DELETE CASCADE,
	domain          TEXT    NOT NULL,
	password_hash   TEXT    NOT NULL,
	suspended_login INTEGER NOT NULL,
	created_at      INTEGER NOT NULL
);
CREATE INDEX directory_mailboxes_account ON directory_mailboxes (account);
CREATE INDEX directory_mailboxes_domain ON directory_mailboxes (domain);

CREATE TABLE directory_tokens (
	user       TEXT    NOT NULL,
	name       TEXT    NOT NULL,
	hash       BLOB    NOT NULL,
	expires_at INTEGER NOT NULL,
	allow_ips  TEXT    NOT NULL,
	created_at INTEGER NOT NULL,
	PRIMARY KEY (user, name),
	UNIQUE (user, hash)
);
