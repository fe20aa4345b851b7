-- One store: what WHM remembers about an account (plan, contact address,
-- suspension reason, time and root lock) as columns of the account. The
-- previous release kept none of it in PostgreSQL.
ALTER TABLE directory_accounts ADD COLUMN plan           text    NOT NULL DEFAULT '';
ALTER TABLE directory_accounts ADD COLUMN contact_email  text    NOT NULL DEFAULT '';
ALTER TABLE directory_accounts ADD COLUMN suspend_reason text    NOT NULL DEFAULT '';
ALTER TABLE directory_accounts ADD COLUMN suspended_at   bigint  NOT NULL DEFAULT 0;
ALTER TABLE directory_accounts ADD COLUMN suspend_locked boolean NOT NULL DEFAULT false;
