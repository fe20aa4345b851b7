-- Hosting packages (listpkgs, addpkg, …) and named reseller ACL lists
-- (saveacllist, listacls). A package's limits are columns of the same
-- names as an account's (directory.4); -1 is "unlimited".
CREATE TABLE directory_packages (
	name                   text    COLLATE "C" PRIMARY KEY,
	owner                  text    COLLATE "C" NOT NULL,
	language               text    NOT NULL DEFAULT '',
	created_at             bigint  NOT NULL,
	quota                  bigint  NOT NULL DEFAULT -1,
	bwlimit                bigint  NOT NULL DEFAULT -1,
	max_ftp                bigint  NOT NULL DEFAULT -1,
	max_sql                bigint  NOT NULL DEFAULT -1,
	max_pop                bigint  NOT NULL DEFAULT -1,
	max_lists              bigint  NOT NULL DEFAULT -1,
	max_sub                bigint  NOT NULL DEFAULT -1,
	max_park               bigint  NOT NULL DEFAULT -1,
	max_addon              bigint  NOT NULL DEFAULT -1,
	max_passenger_apps     bigint  NOT NULL DEFAULT -1,
	max_emailacct_quota    bigint  NOT NULL DEFAULT -1,
	max_email_per_hour     bigint  NOT NULL DEFAULT -1,
	max_defer_fail_percent bigint  NOT NULL DEFAULT -1,
	max_team_users         bigint  NOT NULL DEFAULT -1,
	cgi                    boolean NOT NULL DEFAULT false,
	has_shell              boolean NOT NULL DEFAULT false,
	dedicated_ip           boolean NOT NULL DEFAULT false,
	digest_auth            boolean NOT NULL DEFAULT false,
	feature_list           text    NOT NULL DEFAULT '',
	theme                  text    NOT NULL DEFAULT ''
);
CREATE INDEX directory_packages_owner ON directory_packages (owner);

CREATE TABLE directory_acl_lists (
	name text    COLLATE "C" PRIMARY KEY,
	acls text    NOT NULL
);
