-- A mailbox's disk quota in bytes (0: unlimited), as cPanel keeps it in
-- ~/etc/DOMAIN/quota and Email::add_pop takes it.
ALTER TABLE directory_mailboxes ADD COLUMN quota bigint NOT NULL DEFAULT 0;
