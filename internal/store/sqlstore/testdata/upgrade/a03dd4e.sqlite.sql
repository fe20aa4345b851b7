-- uapid a03dd4e (a03dd4e252c3559c74c937a56b46aeb586528c46): SQLite store (<data>/uapid.db)
-- written by the old release; produced with `sqlite3 uapid.db .dump` minus PRAGMA/BEGIN/COMMIT.
-- Load into a fresh, empty database.

CREATE TABLE schema_migrations (
		component TEXT NOT NULL,
		version   INTEGER NOT NULL,
		applied_at INTEGER NOT NULL,
		PRIMARY KEY (component, version));
INSERT INTO schema_migrations VALUES('directory',1,1796617887);
INSERT INTO schema_migrations VALUES('sessions',1,1796617887);
INSERT INTO schema_migrations VALUES('tempdb',1,1796617887);
INSERT INTO schema_migrations VALUES('whmacct',1,1796617887);
CREATE TABLE directory_state (
	id                 INTEGER PRIMARY KEY CHECK (id = 1),
	root_password_hash TEXT    NOT NULL DEFAULT '',
	generation         INTEGER NOT NULL DEFAULT 1
);
INSERT INTO directory_state VALUES(1,'$6$EyN1mveEZeEoJK5e$3zMlr1FpqcZCoQGFhDjU9pxo7x.ScdYjXHKmnPN.4CBRMN4pSIxhmQ0XrCnnrDuiQizJdXbZNP7oWqjUYNQBd0',17);
CREATE TABLE directory_accounts (
	user          TEXT    PRIMARY KEY,
	password_hash TEXT    NOT NULL,
	locale        TEXT    NOT NULL,
	owner         TEXT    NOT NULL,
	reseller      INTEGER NOT NULL,
	suspended     INTEGER NOT NULL,
	created_at    INTEGER NOT NULL
);
INSERT INTO directory_accounts VALUES('res','$6$O0PZP8tqdQ6j/tNg$MGsFxMbvGR0ZUwSYmTDaltjviqmFl1WJ/A4nuOK3oR5Hs7DfaICyoI4FiIe3509Q3DdHIcY9PFQpkb.XiQ5Jb0','en','root',1,0,1796617887540941937);
INSERT INTO directory_accounts VALUES('carol','$6$SV8dS9Ivv8oFbN/z$1E/hq9rMFgEO0oSkMQUJGOj7rnSyHaQ.gYSJe2Ch89qScfHiKprxosW03pd8eMXOQHmncUi0DpUNoKxPJRLMQ0','en','res',0,1,1796617887543146405);
INSERT INTO directory_accounts VALUES('alice','$6$oKD.Q4V3eUywDGNZ$vX8XfSnqHkPMZ8PgIe5oDQmPOGGm.IzDOJCuQNfV4ps7LS66ZnkArZDgjt2guLAFbtCpI7Mjea7X1mcxJpfs/1','en','root',0,0,1796617887544767073);
INSERT INTO directory_accounts VALUES('bob','$6$rhppfeHgddJ7Ab4Q$cpM4YQM5rpwecLK0/49tNXWyU6PFQhHl.EgK1dou1FCxCWgCgQOXmxD/Hs6SEa1WJ43gyyxTIM7dLTbA4F78x0','de','root',0,1,1796617887550713706);
INSERT INTO directory_accounts VALUES('dave','$6$Aka1PzdY/7QSnlLe$5Xo9B2yJMgfzgo3vJbwpm3xmCPBz49InlKouojhVUfHqQDKwNCaVXUOUCHdOXmdDadah/QHKAA0m81fsybMGk0','en','root',0,0,1796617887820948298);
CREATE TABLE directory_domains (
	domain   TEXT    PRIMARY KEY,
	account  TEXT    NOT NULL REFERENCES directory_accounts (user) ON DELETE CASCADE,
	position INTEGER NOT NULL
);
INSERT INTO directory_domains VALUES('res.test','res',0);
INSERT INTO directory_domains VALUES('carol.test','carol',0);
INSERT INTO directory_domains VALUES('alice.test','alice',0);
INSERT INTO directory_domains VALUES('shop.alice.test','alice',1);
INSERT INTO directory_domains VALUES('bob.test','bob',0);
INSERT INTO directory_domains VALUES('dave.test','dave',0);
CREATE TABLE directory_databases (
	account  TEXT    NOT NULL REFERENCES directory_accounts (user) ON DELETE CASCADE,
	name     TEXT    NOT NULL,
	position INTEGER NOT NULL,
	PRIMARY KEY (account, name)
);
INSERT INTO directory_databases VALUES('carol','carol_db',0);
INSERT INTO directory_databases VALUES('alice','alice_wp',0);
INSERT INTO directory_databases VALUES('alice','alice_shop',1);
CREATE TABLE directory_mailboxes (
	address         TEXT    PRIMARY KEY,
	account         TEXT    NOT NULL REFERENCES directory_accounts (user) ON DELETE CASCADE,
	domain          TEXT    NOT NULL,
	password_hash   TEXT    NOT NULL,
	suspended_login INTEGER NOT NULL,
	created_at      INTEGER NOT NULL
);
INSERT INTO directory_mailboxes VALUES('info@alice.test','alice','alice.test','$6$B2vhl1PNxZnvQxB6$ljPdSqF/k6Ut4H2ZriR5n11WexcPUXg9sSznZSQfOZIj8njAqTXVUYwO0G20dUjyesTU55RAvtrofZmLg5scZ/',0,1796617887546439547);
INSERT INTO directory_mailboxes VALUES('support@shop.alice.test','alice','shop.alice.test','$6$702Pip7d9WAwytGJ$YVWuoD8aof7gc1vw33tzbz.mdTKVq5fq65x6Hvr0G/7TT3Ae3KIoegp7VXHJTWWEpbgqC6eb...oUtGX5v8Ea1',1,1796617887548126333);
INSERT INTO directory_mailboxes VALUES('hallo@bob.test','bob','bob.test','$6$L/L96lVxgk1ft.rA$S3UULhf2D1sg5yNr9jS/4tLQ6EXRdmImLYBJdz15.g.YCyN4fSFyNOLtsN6fe.VNJdlVsFvgA03NEOSiAEBgD0',0,1796617887552208075);
INSERT INTO directory_mailboxes VALUES('sales@shop.alice.test','alice','shop.alice.test','$6$hBOMiYW2zENSmNtg$TJgl9eiF/tiD1AnWlx5c6oZnS4wYakeUKrEqlNlcMYAXMnuNSt3QZFkJbuPCYKmGPatuSvwIbBXHJj4eLfwTX/',0,1796617887898511699);
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
INSERT INTO directory_tokens VALUES('root','billing',X'a6f3e78562edfac29459316dc0a15321e7c11d96fe31c4fc2ca1c859dc81afe2',0,'',1796617887538616569);
INSERT INTO directory_tokens VALUES('alice','ci',X'91f1a1c9c629488249a8bf6237b30ffb6db32572bb8887de16c1a26896119800',0,'',1796617887544903656);
INSERT INTO directory_tokens VALUES('root','monitor',X'fce81087ea344585974bc39b33334b4dd938bca2543a5c10dd432f72f29b5c46',4070908800000000000,'127.0.0.1/32,192.0.2.0/24',1796617887866791618);
INSERT INTO directory_tokens VALUES('alice','deploy',X'a5f9d1f11505e6841243941b53379422959a83b9374339a68388195a993cd0e5',4102444800000000000,'',1796617887881077159);
CREATE TABLE sessions (
	id           TEXT    NOT NULL PRIMARY KEY,
	user         TEXT    NOT NULL,
	account      TEXT    NOT NULL,
	service      TEXT    NOT NULL,
	token        TEXT    NOT NULL UNIQUE,
	login_hash   BLOB    UNIQUE,
	consumed     INTEGER NOT NULL DEFAULT 0 CHECK (consumed IN (0, 1)),
	cookie_hash  BLOB    UNIQUE,
	creator      TEXT    NOT NULL,
	method       TEXT    NOT NULL,
	origin       TEXT    NOT NULL,
	locale       TEXT    NOT NULL,
	return_url   TEXT    NOT NULL,
	temp_user    TEXT    NOT NULL,
	temp_pass    TEXT    NOT NULL,
	temp_created INTEGER NOT NULL DEFAULT 0 CHECK (temp_created IN (0, 1)),
	created_at   INTEGER NOT NULL,
	last_used    INTEGER NOT NULL,
	expires_at   INTEGER NOT NULL
) STRICT;
INSERT INTO sessions VALUES('3gahco36agxwkt2c6eyx','info@alice.test','alice','webmaild','/cpsess8703544147',X'297d90c692ddbb5b31082568f968ccc841f89a34148c4a47ef57d8bd1f39ff1e',0,NULL,'alice','create_webmail_session_for_mail_user','198.51.100.23','en','','','',0,1796617887910,1796617887910,2111977887910);
INSERT INTO sessions VALUES('byzawerjok6h2zoc44qt','sales@shop.alice.test','alice','webmaild','/cpsess0730164015',X'4766965d2234f273472d8124303b6327b0afd6cb82ff7e097872672ffba50990',1,X'025d2ad20be1596b491cd81f11ce78341dfb3e46468742d05f4004ecc2c1e0fc','alice','create_webmail_session_for_mail_user','127.0.0.1','fr','','','',0,1796617887921,1796617888029,2111977887921);
INSERT INTO sessions VALUES('w22nd3kh3xffivzkzrz7','alice','alice','cpaneld','/cpsess1495040306',X'2310f7e76bac81d0c401e67afcb7b07a818282aa552f91f119aab90f3dbc58c7',1,X'1c374bc6def78fed49e2f082243fe73c84eb5046c63de0438235aafe478d0650','root','create_user_session','','en','','cpses_all2666osa','A8fjJhenlAxpMg_akVIers36FPeEBFDI',1,1796617888076,1796617888185,2111977888076);
INSERT INTO sessions VALUES('redzxsemugx6wyxidw4x','dave','dave','cpaneld','/cpsess8556927471',X'c6191092b0460226de04cb4c3571621c724a4bfbc934e61a57899db69257f46c',1,X'90f51b716d9a6bdfdd1baf6aa8d2682fec391b8dd3ffe62ada5e1d33fc640a9e','dave','password','127.0.0.1','en','','cpses_da4ap36a2u','HXCoOWI5BATm8UCnriLebzHt7DcfOSsv',0,1796617888209,1796617888209,2111977888209);
CREATE TABLE temp_users (
	name       TEXT    NOT NULL PRIMARY KEY,
	account    TEXT    NOT NULL,
	session_id TEXT    NOT NULL,
	created_at INTEGER NOT NULL
) STRICT;
INSERT INTO temp_users VALUES('cpses_all2666osa','alice','w22nd3kh3xffivzkzrz7',1796617888186);
CREATE TABLE whmacct_notes (
	user           TEXT    NOT NULL PRIMARY KEY,
	created_at     INTEGER NOT NULL,
	plan           TEXT    NOT NULL,
	contact_email  TEXT    NOT NULL,
	suspended      INTEGER NOT NULL,
	suspend_reason TEXT    NOT NULL,
	suspend_time   INTEGER NOT NULL,
	locked         INTEGER NOT NULL
) STRICT;
INSERT INTO whmacct_notes VALUES('dave',1796617887820948298,'gold','dave@example.net',0,'',0,0);
INSERT INTO whmacct_notes VALUES('carol',1796617887543146405,'','',1,'Billing overdue',1796617887,1);
INSERT INTO whmacct_notes VALUES('bob',1796617887550713706,'','',1,'Abuse report #4711',1796617887,0);
CREATE INDEX directory_accounts_owner ON directory_accounts (owner);
CREATE INDEX directory_domains_account ON directory_domains (account);
CREATE INDEX directory_mailboxes_account ON directory_mailboxes (account);
CREATE INDEX directory_mailboxes_domain ON directory_mailboxes (domain);
CREATE INDEX sessions_expires_at ON sessions (expires_at);
CREATE INDEX sessions_account ON sessions (account, created_at);
CREATE INDEX temp_users_session ON temp_users (session_id);
