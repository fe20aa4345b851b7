-- Packages and reseller privileges: an account's limits (set from its
-- package; -1 is "unlimited") and a reseller's ACLs (comma-separated
-- names). Resellers of earlier releases acted without ACLs: they keep the
-- privileges uapid checks (store.DefaultResellerACLs).
ALTER TABLE directory_accounts ADD COLUMN quota bigint  NOT NULL DEFAULT -1;
ALTER TABLE directory_accounts ADD COLUMN bwlimit bigint  NOT NULL DEFAULT -1;
ALTER TABLE directory_accounts ADD COLUMN max_ftp bigint  NOT NULL DEFAULT -1;
ALTER TABLE directory_accounts ADD COLUMN max_sql bigint  NOT NULL DEFAULT -1;
ALTER TABLE directory_accounts ADD COLUMN max_pop bigint  NOT NULL DEFAULT -1;
ALTER TABLE directory_accounts ADD COLUMN max_lists bigint  NOT NULL DEFAULT -1;
ALTER TABLE directory_accounts ADD COLUMN max_sub bigint  NOT NULL DEFAULT -1;
ALTER TABLE directory_accounts ADD COLUMN max_park bigint  NOT NULL DEFAULT -1;
ALTER TABLE directory_accounts ADD COLUMN max_addon bigint  NOT NULL DEFAULT -1;
ALTER TABLE directory_accounts ADD COLUMN max_passenger_apps bigint  NOT NULL DEFAULT -1;
ALTER TABLE directory_accounts ADD COLUMN max_emailacct_quota bigint  NOT NULL DEFAULT -1;
ALTER TABLE directory_accounts ADD COLUMN max_email_per_hour bigint  NOT NULL DEFAULT -1;
ALTER TABLE directory_accounts ADD COLUMN max_defer_fail_percent bigint  NOT NULL DEFAULT -1;
ALTER TABLE directory_accounts ADD COLUMN max_team_users bigint  NOT NULL DEFAULT -1;
ALTER TABLE directory_accounts ADD COLUMN cgi boolean NOT NULL DEFAULT false;
ALTER TABLE directory_accounts ADD COLUMN has_shell boolean NOT NULL DEFAULT false;
ALTER TABLE directory_accounts ADD COLUMN dedicated_ip boolean NOT NULL DEFAULT false;
ALTER TABLE directory_accounts ADD COLUMN digest_auth boolean NOT NULL DEFAULT false;
ALTER TABLE directory_accounts ADD COLUMN feature_list text    NOT NULL DEFAULT '';
ALTER TABLE directory_accounts ADD COLUMN theme text    NOT NULL DEFAULT '';
ALTER TABLE directory_accounts ADD COLUMN acls text NOT NULL DEFAULT '';
UPDATE directory_accounts SET acls = 'add-pkg,create-acct,edit-account,edit-pkg,kill-acct,list-accts,passwd,show-bandwidth,suspend-acct,upgrade-account,viewglobalpackages'
	WHERE reseller;
