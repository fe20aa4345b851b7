-- uapid a03dd4e (a03dd4e252c3559c74c937a56b46aeb586528c46): PostgreSQL store
-- written by the old release; produced with `pg_dump --no-owner --no-privileges --inserts --schema=public`,
-- then unqualified (no `public.`), without SET/set_config lines, psql meta-commands and comments.
-- Objects are created in the first schema of the search_path. bytea values are '\x..' literals
-- (standard_conforming_strings = on, the server default).

CREATE TABLE directory_accounts (
    username text NOT NULL COLLATE pg_catalog."C",
    password_hash text NOT NULL,
    locale text NOT NULL,
    owner text NOT NULL COLLATE pg_catalog."C",
    reseller boolean NOT NULL,
    suspended boolean NOT NULL,
    created_at bigint NOT NULL
);

CREATE TABLE directory_databases (
    account text NOT NULL COLLATE pg_catalog."C",
    name text NOT NULL COLLATE pg_catalog."C",
    "position" integer NOT NULL
);

CREATE TABLE directory_domains (
    domain text NOT NULL COLLATE pg_catalog."C",
    account text NOT NULL COLLATE pg_catalog."C",
    "position" integer NOT NULL
);

CREATE TABLE directory_mailboxes (
    address text NOT NULL COLLATE pg_catalog."C",
    account text NOT NULL COLLATE pg_catalog."C",
    domain text NOT NULL COLLATE pg_catalog."C",
    password_hash text NOT NULL,
    suspended_login boolean NOT NULL,
    created_at bigint NOT NULL
);

CREATE TABLE directory_state (
    id integer NOT NULL,
    root_password_hash text DEFAULT ''::text NOT NULL,
    generation bigint DEFAULT 1 NOT NULL,
    CONSTRAINT directory_state_id_check CHECK ((id = 1))
);

CREATE TABLE directory_tokens (
    username text NOT NULL COLLATE pg_catalog."C",
    name text NOT NULL COLLATE pg_catalog."C",
    hash bytea NOT NULL,
    expires_at bigint NOT NULL,
    allow_ips text NOT NULL,
    created_at bigint NOT NULL
);

CREATE TABLE sessions (
    id text NOT NULL COLLATE pg_catalog."C",
    user_name text NOT NULL COLLATE pg_catalog."C",
    account text NOT NULL COLLATE pg_catalog."C",
    service text NOT NULL,
    token text NOT NULL COLLATE pg_catalog."C",
    login_hash bytea,
    consumed boolean DEFAULT false NOT NULL,
    cookie_hash bytea,
    creator text NOT NULL,
    method text NOT NULL,
    origin text NOT NULL,
    locale text NOT NULL,
    return_url bytea NOT NULL,
    temp_user text NOT NULL,
    temp_pass bytea NOT NULL,
    temp_created boolean DEFAULT false NOT NULL,
    created_at bigint NOT NULL,
    last_used bigint NOT NULL,
    expires_at bigint NOT NULL
);

COMMENT ON COLUMN sessions.return_url IS 'secretbox-sealed (AES-GCM); empty when none';

COMMENT ON COLUMN sessions.temp_pass IS 'secretbox-sealed (AES-GCM); empty when none';

COMMENT ON COLUMN sessions.expires_at IS 'unix milliseconds';

CREATE TABLE temp_users (
    name text NOT NULL COLLATE pg_catalog."C",
    account text NOT NULL,
    session_id text NOT NULL COLLATE pg_catalog."C",
    created_at bigint NOT NULL
);

CREATE TABLE uapid_schema_migrations (
    component text NOT NULL,
    version integer NOT NULL,
    applied_at timestamp with time zone DEFAULT now() NOT NULL
);

INSERT INTO directory_accounts VALUES ('res', '$6$GcLrh4AR1g0Vd/gZ$RhpzvtzYJKZ6dZ7gWDmzvDaYz3j1yGKw2MAm3Pv.TDQk0wUefPEUy5nZKoQLUeQNYdOrCTbLCZZH4jMiQO9BG.', 'en', 'root', true, false, 1796617892231528938);
INSERT INTO directory_accounts VALUES ('alice', '$6$lwgZyq.JqjGTNfUp$hZS5DcOlAsdUMvXrcnqKusW.TbRf.B85myEg0IzIa4emksd.GtPmIYC4oas24AgS.TWoXmzN68nvvvxK/7Sk..', 'en', 'root', false, false, 1796617892242911875);
INSERT INTO directory_accounts VALUES ('dave', '$6$zQgBLnt3yUjnpwpP$KAl3kxsM7iDxHvaj9Pp.wIiCCCwt938zUrBeS.OKHN27Ejxwe0NJCVVlJt/ttuRm/DAPM2L32jS9PbgFibn.X/', 'en', 'root', false, false, 1796617892341226440);
INSERT INTO directory_accounts VALUES ('carol', '$6$8NW8b0IzwOuJjKJx$vdE7lMiQMj8BRmkbgkwLP9H95wjGl8pAj4QzkV1mesFXxO4ieCNtO9IpfrsnVyANl4uEKt84ekMC2ynfliVBZ.', 'en', 'res', false, true, 1796617892238471062);
INSERT INTO directory_accounts VALUES ('bob', '$6$qcwwWtGct7jznJqT$kzpoyWO2OTQAMSrfar9UChjUdq8vYJxQPPmCaSJ/0kGScmyzlGjnJCXIH.t8z1xVvhwLY1Fbkmo32eZeYsMSp0', 'de', 'root', false, true, 1796617892255943762);

INSERT INTO directory_databases VALUES ('carol', 'carol_db', 0);
INSERT INTO directory_databases VALUES ('alice', 'alice_wp', 0);
INSERT INTO directory_databases VALUES ('alice', 'alice_shop', 1);

INSERT INTO directory_domains VALUES ('res.test', 'res', 0);
INSERT INTO directory_domains VALUES ('carol.test', 'carol', 0);
INSERT INTO directory_domains VALUES ('alice.test', 'alice', 0);
INSERT INTO directory_domains VALUES ('shop.alice.test', 'alice', 1);
INSERT INTO directory_domains VALUES ('bob.test', 'bob', 0);
INSERT INTO directory_domains VALUES ('dave.test', 'dave', 0);

INSERT INTO directory_mailboxes VALUES ('info@alice.test', 'alice', 'alice.test', '$6$39ELDGngfHX9bHjG$GHXwGJwGX1s4g99b5HwWr5B0SqbvV59k5XlnKio81N5.lRZIBxIIVvYqcoHa80sex1CgaDmI5c.xew/lY9JYO.', false, 1796617892248922009);
INSERT INTO directory_mailboxes VALUES ('support@shop.alice.test', 'alice', 'shop.alice.test', '$6$5pvSASdhCOMd8YQe$i4O3zydpmytNoXme3mIK4c14j5RVGv5olzHpo1wvJAcpoJBjQviBStsuWm0bFQ7NM8u7bIhO5TA2jNp8jgt0z/', true, 1796617892252098948);
INSERT INTO directory_mailboxes VALUES ('hallo@bob.test', 'bob', 'bob.test', '$6$iVpikHnueLERRQgQ$kAdAP2HOFq71DkTZBEXgJNJ/Rrx1wBqImnCPjP42MSRKEpMsX85BkXJYAs.KXfDrrESnTAemlc06cLmfqWjHH1', false, 1796617892259011147);
INSERT INTO directory_mailboxes VALUES ('sales@shop.alice.test', 'alice', 'shop.alice.test', '$6$Ik/ci932bF6oZZZk$gRWL8CQN0dU8gRkBRcZdG6Wy4F9rHXTGE1UWgt9OBY4QPTu3oOTq07Kr3f4lKwk2kPWW2Uk0spimuOY85I8Jp1', false, 1796617892519186205);

INSERT INTO directory_state VALUES (1, '$6$8n4aOtb4mX8U.42V$U6n.2MDfR2H/.mFxEpWjc7USH6jnZQ2uP0QyRtOzVKr.HbfWSoUiwnYNRNNeFcBd5cTeVRK24pVHh26tFa7z6.', 17);

INSERT INTO directory_tokens VALUES ('root', 'billing', '\xa6f3e78562edfac29459316dc0a15321e7c11d96fe31c4fc2ca1c859dc81afe2', 0, '', 1796617892227460069);
INSERT INTO directory_tokens VALUES ('alice', 'ci', '\x91f1a1c9c629488249a8bf6237b30ffb6db32572bb8887de16c1a26896119800', 0, '', 1796617892245826142);
INSERT INTO directory_tokens VALUES ('root', 'monitor', '\x7fa0297b67f60878476010a25e645b34bec57e96322559579c7137c0eedc4802', 4070908800000000000, '127.0.0.1/32,192.0.2.0/24', 1796617892438141748);
INSERT INTO directory_tokens VALUES ('alice', 'deploy', '\x9facefa16a35404cd2bacf22ada5a4a6e1fcaf975ec9680f361e4021cac19ccf', 4102444800000000000, '', 1796617892460473145);

INSERT INTO sessions VALUES ('c7fdrot4e7h6w76h4ufr', 'info@alice.test', 'alice', 'webmaild', '/cpsess9604190304', '\xe49a0c3982cc16d8354ccc8649d4f04c4794d3805f20734c73d7a65c21f3865c', false, NULL, 'alice', 'create_webmail_session_for_mail_user', '198.51.100.23', 'en', '\x', '', '\x', false, 1796617892559, 1796617892559, 2111977892559);
INSERT INTO sessions VALUES ('hnfnlu3ykjviryfx56mo', 'sales@shop.alice.test', 'alice', 'webmaild', '/cpsess2999791676', '\x8c91228720e8d286cc73e62797269750dcf261fb5f2ea1af05013fb234fed5ff', true, '\x5e6cfaa265f0acf627de19cafc4775734bd0e42338f1e0a7db98d6560c32dc5f', 'alice', 'create_webmail_session_for_mail_user', '127.0.0.1', 'fr', '\x', '', '\x', false, 1796617892571, 1796617892684, 2111977892571);
INSERT INTO sessions VALUES ('zu7j4scoor2d3qthslou', 'alice', 'alice', 'cpaneld', '/cpsess7455955396', '\xf6f5d1f6918eac9743252893b24da28b16ab6f405d5cb8759260fdf9ed15c644', true, '\x35452cb320af0802d04463dde67d428d65184769481078624ec51df37cb06012', 'root', 'create_user_session', '', 'en', '\x', 'cpses_alzjt0l6zg', '\x01066dc3fe405be76a6e084e2fdb7e3684443f630e462fcd026accedf455bb4098c7befd8377960aaec9a17286ab2b97236d48ff3fa72849dd11e9ed6a5191bb87', true, 1796617892737, 1796617892958, 2111977892737);
INSERT INTO sessions VALUES ('5iiuuexbwydgtl2cmmur', 'dave', 'dave', 'cpaneld', '/cpsess1582780207', '\x5f0ac9b847b1575b25c31cb7ff609e30b5fd0fd1f22cb5ed688f33b4200b3f21', true, '\xb3626fd7b5ebd285e89b965dd4a0a8a5acefb260bc3c3bb47bb762555f943e3c', 'dave', 'password', '127.0.0.1', 'en', '\x', 'cpses_dawc2ua1t1', '\x01066dc3fe425c47ea258d13f90f74ba59c95c85d8c630b30327a67c9e65d22a700e38aabf56be7e49215b2921c23840db922aef243bb5e345510bbfd28e991727', false, 1796617892985, 1796617892986, 2111977892985);

INSERT INTO temp_users VALUES ('cpses_alzjt0l6zg', 'alice', 'zu7j4scoor2d3qthslou', 1796617892958);

INSERT INTO uapid_schema_migrations VALUES ('sessions', 1, '2026-12-07 04:31:32.095894+00');
INSERT INTO uapid_schema_migrations VALUES ('directory', 1, '2026-12-07 04:31:32.095894+00');
INSERT INTO uapid_schema_migrations VALUES ('tempdb', 1, '2026-12-07 04:31:32.095894+00');

ALTER TABLE ONLY directory_accounts
    ADD CONSTRAINT directory_accounts_pkey PRIMARY KEY (username);

ALTER TABLE ONLY directory_databases
    ADD CONSTRAINT directory_databases_pkey PRIMARY KEY (account, name);

ALTER TABLE ONLY directory_domains
    ADD CONSTRAINT directory_domains_pkey PRIMARY KEY (domain);

ALTER TABLE ONLY directory_mailboxes
    ADD CONSTRAINT directory_mailboxes_pkey PRIMARY KEY (address);

ALTER TABLE ONLY directory_state
    ADD CONSTRAINT directory_state_pkey PRIMARY KEY (id);

ALTER TABLE ONLY directory_tokens
    ADD CONSTRAINT directory_tokens_pkey PRIMARY KEY (username, name);

ALTER TABLE ONLY directory_tokens
    ADD CONSTRAINT directory_tokens_username_hash_key UNIQUE (username, hash);

ALTER TABLE ONLY sessions
    ADD CONSTRAINT sessions_cookie_hash_key UNIQUE (cookie_hash);

ALTER TABLE ONLY sessions
    ADD CONSTRAINT sessions_login_hash_key UNIQUE (login_hash);

ALTER TABLE ONLY sessions
    ADD CONSTRAINT sessions_pkey PRIMARY KEY (id);

ALTER TABLE ONLY sessions
    ADD CONSTRAINT sessions_token_key UNIQUE (token);

ALTER TABLE ONLY temp_users
    ADD CONSTRAINT temp_users_pkey PRIMARY KEY (name);

ALTER TABLE ONLY uapid_schema_migrations
    ADD CONSTRAINT uapid_schema_migrations_pkey PRIMARY KEY (component, version);

CREATE INDEX directory_accounts_owner ON directory_accounts USING btree (owner);

CREATE INDEX directory_domains_account ON directory_domains USING btree (account);

CREATE INDEX directory_mailboxes_account ON directory_mailboxes USING btree (account);

CREATE INDEX directory_mailboxes_domain ON directory_mailboxes USING btree (domain);

CREATE INDEX sessions_account ON sessions USING btree (account, created_at, id);

CREATE INDEX sessions_expires_at ON sessions USING btree (expires_at);

CREATE INDEX temp_users_session ON temp_users USING btree (session_id);

ALTER TABLE ONLY directory_databases
    ADD CONSTRAINT directory_databases_account_fkey FOREIGN KEY (account) REFERENCES directory_accounts(username) ON DELETE CASCADE;

ALTER TABLE ONLY directory_domains
    ADD CONSTRAINT directory_domains_account_fkey FOREIGN KEY (account) REFERENCES directory_accounts(username) ON DELETE CASCADE;

ALTER TABLE ONLY directory_mailboxes
    ADD CONSTRAINT directory_mailboxes_account_fkey FOREIGN KEY (account) REFERENCES directory_accounts(username) ON DELETE CASCADE;
