-- Hosting packages (listpkgs, addpkg, …) and named reseller ACL lists
-- (saveacllist, listacls). A package's limits are columns of the same
-- names as an account's (directory.4); -1 is "unlimited".
CREATE TABLE directory_packages (
	name                   TEXT    PRIMARY KEY,
	owner                  TEXT    NOT NULL,
	language               TEXT    NOT NULL DEFAULT '',
	created_at             INTEGER NOT NULL,
	quota                  INTEGER NOT NULL DEFAULT -1,
	bwlimit                INTEGER NOT NULL DEFAULT -1,
	max_ftp                INTEGER NOT NULL DEFAULT -1,
	max_sql                INTEGER NOT NULL DEFAULT -1,
	max_pop                INTEGER NOT NULL DEFAULT -1,
	max_lists              INTEGER NOT NULL DEFAULT -1,
	max_sub                INTEGER NOT NULL DEFAULT -1,
	max_park               INTEGER NOT NULL DEFAULT -1,
	max_addon              INTEGER NOT NULL DEFAULT -1,
	max_passenger_apps     INTEGER NOT NULL DEFAULT -1,
	max_emailacct_quota    INTEGER NOT NULL DEFAULT -1,
	max_email_per_hour     INTEGER NOT NULL DEFAULT -1,
	max_defer_fail_percent INTEGER NOT NULL DEFAULT -1,
	max_team_users         INTEGER NOT NULL DEFAULT -1,
	cgi                    INTEGER NOT NULL DEFAULT 0,
	has_shell              INTEGER NOT NULL DEFAULT 0,
	dedicated_ip           INTEGER NOT NULL DEFAULT 0,
	digest_auth            INTEGER NOT NULL DEFAULT 0,
	feature_list           TEXT    NOT NULL DEFAULT '',
	theme                  TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX directory_packages_owner ON directory_packages (owner);

CREATE TABLE directory_acl_lists (
	name TEXT    PRIMARY KEY,
	acls TEXT    NOT NULL
);
