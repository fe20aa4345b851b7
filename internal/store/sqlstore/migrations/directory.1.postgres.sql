-- The directory as the first release created it (kept as it was applied).
-- Text columns that are compared or sorted use the "C" collation, so that
-- order is by bytes as in SQLite and Go, whatever the database's locale.
CREATE TABLE directory_state (
	id                 integer PRIMARY KEY CHECK (id = 1),
	root_password_hash text    NOT NULL DEFAULT '',
	generation         bigint  NOT NULL DEFAULT 1
);
INSERT INTO directory_state (id) VALUES (1);

CREATE TABLE directory_accounts (
	username      text    COLLATE "C" PRIMARY KEY,
	password_hash text    NOT NULL,
	locale        text    NOT NULL,
	owner         text    COLLATE "C" NOT NULL,
	reseller      boolean NOT NULL,
	suspended     boolean NOT NULL,
	created_at    bigint  NOT NULL
);
CREATE INDEX directory_accounts_owner ON directory_accounts (owner);

CREATE TABLE directory_domains (
	domain   text    COLLATE "C" PRIMARY KEY,
	account  text    COLLATE "C" NOT NULL REFERENCES directory_accounts (username) ON DELETE CASCADE,
	position integer NOT NULL
);
CREATE INDEX directory_domains_account ON directory_domains (account);

CREATE TABLE directory_databases (
	account  text    COLLATE "C" NOT NULL REFERENCES directory_accounts (username) ON DELETE CASCADE,
	name     text    COLLATE "C" NOT NULL,
	position integer NOT NULL,
	PRIMARY KEY (account, name)
);

CREATE TABLE directory_mailboxes (
	address         text    COLLATE "C" PRIMARY KEY,
	account         text    COLLATE "C" NOT NULL REFERENCES directory_accounts (username) ON DELETE CASCADE,
	domain          text    COLLATE "C" NOT NULL,
	password_hash   text    NOT NULL,
	suspended_login boolean NOT NULL,
	created_at      bigint  NOT NULL
);
CREATE INDEX directory_mailboxes_account ON directory_mailboxes (account);
CREATE INDEX directory_mailboxes_domain ON directory_mailboxes (domain);

CREATE TABLE directory_tokens (
	username   text   COLLATE "C" NOT NULL,
	name       text   COLLATE "C" NOT NULL,
	hash       bytea  NOT NULL,
	expires_at bigint NOT NULL,
	allow_ips  text   NOT NULL,
	created_at bigint NOT NULL,
	PRIMARY KEY (username, name),
	UNIQUE (username, hash)
);
