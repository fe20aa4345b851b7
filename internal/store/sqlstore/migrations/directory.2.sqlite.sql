-- One store: the same column names as in PostgreSQL, and what WHM
-- remembers about an account (plan, contact address, suspension reason,
-- time and root lock) as columns of the account. Until now those notes
-- lived in the side table whmacct_notes (created on first use, so it may
-- be missing): they are carried over for the accounts they belonged to
-- (same user and creation time), then the side table goes.
ALTER TABLE directory_accounts RENAME COLUMN user TO username;
ALTER TABLE directory_tokens RENAME COLUMN user TO username;
ALTER TABLE directory_accounts ADD COLUMN plan           TEXT    NOT NULL DEFAULT '';
ALTER TABLE directory_accounts ADD COLUMN contact_email  TEXT    NOT NULL DEFAULT '';
ALTER TABLE directory_accounts ADD COLUMN suspend_reason TEXT    NOT NULL DEFAULT '';
ALTER TABLE directory_accounts ADD COLUMN suspended_at   INTEGER NOT NULL DEFAULT 0;
ALTER TABLE directory_accounts ADD COLUMN suspend_locked INTEGER NOT NULL DEFAULT 0;

CREATE TABLE IF NOT EXISTS whmacct_notes (
	user           TEXT    NOT NULL PRIMARY KEY,
	created_at     INTEGER NOT NULL,
	plan           TEXT    NOT NULL,
	contact_email  TEXT    NOT NULL,
	suspended      INTEGER NOT NULL,
	suspend_reason TEXT    NOT NULL,
	suspend_time   INTEGER NOT NULL,
	locked         INTEGER NOT NULL
) STRICT;
UPDATE directory_accounts SET plan = n.plan, contact_email = n.contact_email
	FROM whmacct_notes AS n
	WHERE n.user = directory_accounts.username AND n.created_at = directory_accounts.created_at;
UPDATE directory_accounts SET suspend_reason = n.suspend_reason,
		suspended_at = n.suspend_time * 1000000000, suspend_locked = n.locked
	FROM whmacct_notes AS n
	WHERE n.user = directory_accounts.username AND n.created_at = directory_accounts.created_at
		AND n.suspended = 1 AND directory_accounts.suspended = 1;
DROP TABLE whmacct_notes;
DELETE FROM schema_migrations WHERE component = 'whmacct';
