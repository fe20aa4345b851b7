-- Packages and reseller privileges: an account's limits (set from its
-- package; -1 is "unlimited") and a reseller's ACLs (comma-separated
-- names). Resellers of earlier releases acted without ACLs: they keep the
-- privileges uapid checks (store.DefaultResellerACLs).
ALTER TABLE directory_accounts ADD COLUMN quota INTEGER NOT NULL DEFAULT -1;
ALTER TABLE directory_accounts ADD COLUMN bwlimit INTEGER NOT NULL DEFAULT -1;
ALTER TABLE directory_accounts ADD COLUMN max_ftp INTEGER NOT NULL DEFAULT -1;
ALTER TABLE directory_accounts ADD COLUMN max_sql INTEGER NOT NULL DEFAULT -1;
ALTER TABLE directory_accounts ADD COLUMN max_pop INTEGER NOT NULL DEFAULT -1;
ALTER TABLE directory_accounts ADD COLUMN max_lists INTEGER NOT NULL DEFAULT -1;
ALTER TABLE directory_accounts ADD COLUMN max_sub INTEGER NOT NULL DEFAULT -1;
ALTER TABLE directory_accounts ADD COLUMN max_park INTEGER NOT NULL DEFAULT -1;
ALTER TABLE directory_accounts ADD COLUMN max_addon INTEGER NOT NULL DEFAULT -1;
ALTER TABLE directory_accounts ADD COLUMN max_passenger_apps INTEGER NOT NULL DEFAULT -1;
ALTER TABLE directory_accounts ADD COLUMN max_emailacct_quota INTEGER NOT NULL DEFAULT -1;
ALTER TABLE directory_accounts ADD COLUMN max_email_per_hour INTEGER NOT NULL DEFAULT -1;
ALTER TABLE directory_accounts ADD COLUMN max_defer_fail_percent INTEGER NOT NULL DEFAULT -1;
ALTER TABLE directory_accounts ADD COLUMN max_team_users INTEGER NOT NULL DEFAULT -1;
ALTER TABLE directory_accounts ADD COLUMN cgi INTEGER NOT NULL DEFAULT 0;
ALTER TABLE directory_accounts ADD COLUMN has_shell INTEGER NOT NULL DEFAULT 0;
ALTER TABLE directory_accounts ADD COLUMN dedicated_ip INTEGER NOT NULL DEFAULT 0;
ALTER TABLE directory_accounts ADD COLUMN digest_auth INTEGER NOT NULL DEFAULT 0;
ALTER TABLE directory_accounts ADD COLUMN feature_list TEXT    NOT NULL DEFAULT '';
ALTER TABLE directory_accounts ADD COLUMN theme TEXT    NOT NULL DEFAULT '';
ALTER TABLE directory_accounts ADD COLUMN acls TEXT NOT NULL DEFAULT '';
UPDATE directory_accounts SET acls = 'add-pkg,create-acct,edit-account,edit-pkg,kill-acct,list-accts,passwd,show-bandwidth,suspend-acct,upgrade-account,viewglobalpackages'
	WHERE reseller = 1;
