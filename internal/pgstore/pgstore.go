// Package pgstore keeps uapid's shared state in PostgreSQL, so that any
// number of uapid nodes behind a load balancer serve the same accounts and
// sessions: the account directory (Directory), the session records
// (Sessions) and the ledger of temporary database users (Ledger), all over
// one pgx connection pool (DB).
//
// Guarantees beyond those of the interfaces it implements:
//   - Open applies the schema migrations while holding a transaction-level
//     advisory lock, so nodes starting together apply each step exactly
//     once; a node never runs on a schema older than it expects.
//   - Every Store and Ledger guarantee rests on single SQL statements
//     (conditional UPDATE … RETURNING, DELETE … RETURNING, INSERT with
//     unique constraints), never on anything held in one process.
//   - Directory writes are serialised by a row lock on the one
//     directory_state row, which also carries the generation counter, so
//     that their checks (owner exists, domain free) and the generation move
//     together, exactly as in the SQLite directory.
//   - Sweep takes expired sessions by the indexed expires_at column with
//     FOR UPDATE SKIP LOCKED: several nodes sweep at once without waiting on
//     each other and without returning a record twice.
//
// The tables live in the connection's current schema (set search_path in
// the DSN, e.g. postgres://…/uapid?search_path=uapid, to use another one
// than public). Secrets that are not hashes (the temporary database
// password and the return URL of a session) are sealed with a
// secretbox.Box before they reach the database.
package pgstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// DB is a pool of connections to uapid's PostgreSQL database with the
// schema applied. Directory, Sessions and Ledger built on it share it.
type DB struct {
	pool *pgxpool.Pool
}

// migrateLockKey is the pg_advisory_xact_lock key that serialises schema
// migrations across nodes ("uapid" in ASCII, as an int8).
const migrateLockKey = 0x7561706964

// Options tune Open. The zero value is fine.
type Options struct {
	// MaxConns caps the pool (0: pgx's default, the larger of 4 and the
	// number of CPUs), unless the DSN sets pool_max_conns.
	MaxConns int32
}

// Open connects to dsn (a postgres:// URL or key=value string as pgx
// accepts it), checks that the server answers, and applies the schema
// migrations. Errors never show the DSN's password.
func Open(ctx context.Context, dsn string, o Options) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// The parse error may quote the DSN, password included.
		return nil, errors.New("postgresql store: invalid DSN (details withheld: the DSN may hold a password)")
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = 10 * time.Second
	}
	if o.MaxConns > 0 && !strings.Contains(dsn, "pool_max_conns") {
		cfg.MaxConns = o.MaxConns
	}
	cfg.MaxConnIdleTime = 5 * time.Minute
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgresql store: %w", err)
	}
	pctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := pool.Ping(pctx); err != nil {
		pool.Close()
		// pgconn lists every connection attempt on its own line; uapid
		// reports start-up errors as one line.
		return nil, fmt.Errorf("postgresql store: cannot reach %s:%d: %s", cfg.ConnConfig.Host, cfg.ConnConfig.Port,
			strings.Join(strings.Fields(err.Error()), " "))
	}
	db := &DB{pool: pool}
	if err := db.migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return db, nil
}

// Pool returns the connection pool (for tests and tools).
func (db *DB) Pool() *pgxpool.Pool { return db.pool }

// Ping reports whether the database answers.
func (db *DB) Ping(ctx context.Context) error { return db.pool.Ping(ctx) }

// Close closes the pool. Stores built on db must not be used afterwards.
func (db *DB) Close() { db.pool.Close() }

// migration is one schema step of a component, applied once.
type migration struct {
	component string
	version   int
	sql       string
}

// migrations are every component's steps, in the order they are applied.
// Text columns that are compared or sorted use the "C" collation, so that
// order is by bytes as in SQLite and Go, whatever the database's locale.
var migrations = []migration{
	{"sessions", 1, `
CREATE TABLE sessions (
	id           text    COLLATE "C" NOT NULL PRIMARY KEY,
	user_name    text    COLLATE "C" NOT NULL,
	account      text    COLLATE "C" NOT NULL,
	service      text    NOT NULL,
	token        text    COLLATE "C" NOT NULL UNIQUE,
	login_hash   bytea   UNIQUE,
	consumed     boolean NOT NULL DEFAULT false,
	cookie_hash  bytea   UNIQUE,
	creator      text    NOT NULL,
	method       text    NOT NULL,
	origin       text    NOT NULL,
	locale       text    NOT NULL,
	return_url   bytea   NOT NULL,
	temp_user    text    NOT NULL,
	temp_pass    bytea   NOT NULL,
	temp_created boolean NOT NULL DEFAULT false,
	created_at   bigint  NOT NULL,
	last_used    bigint  NOT NULL,
	expires_at   bigint  NOT NULL
);
CREATE INDEX sessions_expires_at ON sessions (expires_at);
CREATE INDEX sessions_account ON sessions (account, created_at, id);
COMMENT ON COLUMN sessions.return_url IS 'secretbox-sealed (AES-GCM); empty when none';
COMMENT ON COLUMN sessions.temp_pass IS 'secretbox-sealed (AES-GCM); empty when none';
COMMENT ON COLUMN sessions.expires_at IS 'unix milliseconds';
`},
	{"directory", 1, `
CREATE TABLE directory_state (
	id                 integer PRIMARY KEY CHECK (id = 1),
	root_password_hash text    NOT NULL DEFAULT '',
	generation         bigint  NOT NULL DEFAULT 1
);
INSERT INTO directory_state (id) VALUES (1);

CREATE TABLE directory_accounts (
	username      text    COLLATE "C" PRIMARY KEY,
	password_hash text    NOT NULL,
	locale        text    NOT NULL,
	owner         text    COLLATE "C" NOT NULL,
	reseller      boolean NOT NULL,
	suspended     boolean NOT NULL,
	created_at    bigint  NOT NULL
);
CREATE INDEX directory_accounts_owner ON directory_accounts (owner);

CREATE TABLE directory_domains (
	domain   text    COLLATE "C" PRIMARY KEY,
	account  text    COLLATE "C" NOT NULL REFERENCES directory_accounts (username) ON DELETE CASCADE,
	position integer NOT NULL
);
CREATE INDEX directory_domains_account ON directory_domains (account);

CREATE TABLE directory_databases (
	account  text    COLLATE "C" NOT NULL REFERENCES directory_accounts (username) ON DELETE CASCADE,
	name     text    COLLATE "C" NOT NULL,
	position integer NOT NULL,
	PRIMARY KEY (account, name)
);

CREATE TABLE directory_mailboxes (
	address         text    COLLATE "C" PRIMARY KEY,
	account         text    COLLATE "C" NOT NULL REFERENCES directory_accounts (username) ON DELETE CASCADE,
	domain          text    COLLATE "C" NOT NULL,
	password_hash   text    NOT NULL,
	suspended_login boolean NOT NULL,
	created_at      bigint  NOT NULL
);
CREATE INDEX directory_mailboxes_account ON directory_mailboxes (account);
CREATE INDEX directory_mailboxes_domain ON directory_mailboxes (domain);

CREATE TABLE directory_tokens (
	username   text   COLLATE "C" NOT NULL,
	name       text   COLLATE "C" NOT NULL,
	hash       bytea  NOT NULL,
	expires_at bigint NOT NULL,
	allow_ips  text   NOT NULL,
	created_at bigint NOT NULL,
	PRIMARY KEY (username, name),
	UNIQUE (username, hash)
);
`},
	{"tempdb", 1, `
CREATE TABLE temp_users (
	name       text   COLLATE "C" NOT NULL PRIMARY KEY,
	account    text   NOT NULL,
	session_id text   COLLATE "C" NOT NULL,
	created_at bigint NOT NULL
);
CREATE INDEX temp_users_session ON temp_users (session_id);
`},
}

// migrate applies the steps that are not applied yet, all in one
// transaction that first takes the migration advisory lock: a second node
// starting at the same moment waits for the first to commit and then finds
// nothing left to do.
func (db *DB) migrate(ctx context.Context) error {
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("postgresql store: migrate: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(migrateLockKey)); err != nil {
		return fmt.Errorf("postgresql store: migrate: take the migration lock: %w", err)
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS uapid_schema_migrations (
		component  text    NOT NULL,
		version    integer NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now(),
		PRIMARY KEY (component, version))`); err != nil {
		return fmt.Errorf("postgresql store: migrate: %w", err)
	}
	rows, err := tx.Query(ctx, `SELECT component, version FROM uapid_schema_migrations`)
	if err != nil {
		return fmt.Errorf("postgresql store: migrate: %w", err)
	}
	applied := map[string]int{}
	var comp string
	var ver int
	if _, err := pgx.ForEachRow(rows, []any{&comp, &ver}, func() error {
		applied[comp] = max(applied[comp], ver)
		return nil
	}); err != nil {
		return fmt.Errorf("postgresql store: migrate: %w", err)
	}
	known := map[string]int{}
	for _, m := range migrations {
		known[m.component] = max(known[m.component], m.version)
	}
	for c, v := range applied {
		if v > known[c] {
			return fmt.Errorf("postgresql store: the %s schema is at version %d, newer than this uapid knows (%d): upgrade this node", c, v, known[c])
		}
	}
	changed := false
	for _, m := range migrations {
		if m.version <= applied[m.component] {
			continue
		}
		if _, err := tx.Exec(ctx, m.sql); err != nil {
			return fmt.Errorf("postgresql store: migrate %s to version %d: %w", m.component, m.version, err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO uapid_schema_migrations (component, version) VALUES ($1, $2)`,
			m.component, m.version); err != nil {
			return fmt.Errorf("postgresql store: migrate %s to version %d: %w", m.component, m.version, err)
		}
		changed = true
	}
	if !changed {
		return nil // the rollback releases the lock
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("postgresql store: migrate: commit: %w", err)
	}
	return nil
}

// SQLSTATE codes this package reacts to.
const (
	codeUniqueViolation = "23505"
	// codeBadCharacter: text that is not valid UTF-8 or holds NUL.
	codeBadCharacter = "22021"
)

func pgCode(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

func isUniqueViolation(err error) bool { return pgCode(err) == codeUniqueViolation }

// storable reports whether s can be stored in a PostgreSQL text column:
// valid UTF-8 without NUL.
func storable(s string) bool {
	return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0
}
