-- One store: the same column name as in PostgreSQL.
ALTER TABLE sessions RENAME COLUMN user TO user_name;
