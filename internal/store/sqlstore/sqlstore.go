// Package sqlstore is uapid's store in SQL: one implementation of the
// store contract (Directory, Packages, Sessions, Ledger, Attempts, OAuth,
// Tickets) for two databases, SQLite (the embedded default: one file in
// the data directory, pure-Go driver, WAL) and PostgreSQL (shared by any
// number of nodes).
//
// What differs between the two is isolated in a dialect (dialect.go):
// placeholders, the statements that serialise directory writes and
// migrations, the locking clause of sweeps, how unique violations and an
// unreachable server show in errors, and how the secrets of a session
// record are kept (sealed with a secretbox.Box in PostgreSQL; in clear in
// the local SQLite file, as before). Each dialect has its own migration
// files (migrations/<component>.<version>.<dialect>.sql). Everything else —
// every query and every rule — exists once.
//
// Guarantees beyond the contract's:
//   - Every uniqueness (account user, domain, mailbox address, token name
//     and hash, session id/token/hashes, temporary-user name) is a unique
//     constraint of the table, and a violation inside the write becomes
//     store.ErrExists.
//   - Directory writes run in one transaction that first serialises
//     against every other directory write (SQLite: an immediate
//     transaction; PostgreSQL: a row lock on the one directory_state row),
//     so the checks that span rows (the owner is a reseller, a domain with
//     mailboxes is not dropped) and the generation counter move together.
//   - Session writes of one SQLite process go through one queue and commit
//     in groups (writer.go); an answered write is committed. In PostgreSQL
//     every session guarantee rests on one statement.
//   - Migrations run at Open, each step once, also when several processes
//     or nodes open the store at the same moment; a store whose schema is
//     newer than this code is refused.
//   - An unreachable server gives store.ErrUnavailable; database/sql and
//     the driver reconnect by themselves when it is back.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/uapid/uapid/internal/secretbox"
)

// DB is an open SQL store with its schema applied. The stores it hands
// out share its connections.
type DB struct {
	db *sql.DB
	d  *dialect
	// box seals the secret fields of session records (PostgreSQL).
	box *secretbox.Box
	// w runs the session writes of an SQLite store (group commit); nil
	// for PostgreSQL.
	w *writer
	// rebound caches the PostgreSQL text of each query (placeholders).
	rebound sync.Map
	// sweep is the chunk size of SQLite sweeps (sessions.go), kept
	// between sweeps as it adapts.
	sweep sweepChunker
	stop  func()
}

// Options tune Open. The zero value is fine for SQLite.
type Options struct {
	// Box seals the secret fields of session records (the return URL and
	// the temporary database password). Required for PostgreSQL, which
	// keeps no secret in clear; ignored for SQLite.
	Box *secretbox.Box
	// MaxConns caps the connections (0: the dialect's default).
	MaxConns int
}

// Directory returns the directory of the store.
func (db *DB) Directory() *Directory { return &Directory{db: db} }

// Sessions returns the session store.
func (db *DB) Sessions() *Sessions { return &Sessions{db: db} }

// Ledger returns the temporary-user ledger.
func (db *DB) Ledger() *Ledger { return &Ledger{db: db} }

// Attempts returns the brute-force counters.
func (db *DB) Attempts() *Attempts { return &Attempts{db: db} }

// SQL returns the underlying *sql.DB (for tests and tools).
func (db *DB) SQL() *sql.DB { return db.db }

// Dialect returns "sqlite" or "postgres".
func (db *DB) Dialect() string { return db.d.name }

// Ping reports whether the database answers.
func (db *DB) Ping(ctx context.Context) error {
	return db.fail("ping", db.db.PingContext(ctx))
}

// WriteStats reports, for an SQLite store, how many transactions the
// session writer ran and how many writes they held: writes/commits is the
// batching achieved (zeros for PostgreSQL).
func (db *DB) WriteStats() (commits, writes int64) {
	if db.w == nil {
		return 0, 0
	}
	return db.w.txs.Load(), db.w.writes.Load()
}

// Close closes the store.
func (db *DB) Close() error {
	var first error
	if db.w != nil {
		first = db.w.close()
	}
	if db.stop != nil {
		db.stop()
	}
	if err := db.db.Close(); err != nil && first == nil {
		first = err
	}
	return first
}

// q returns query with the dialect's placeholders: queries are written
// with "?" and numbered ($1, $2, …) for PostgreSQL. No query of this
// package has a "?" inside a literal.
func (db *DB) q(query string) string {
	if !db.d.numbered {
		return query
	}
	if v, ok := db.rebound.Load(query); ok {
		return v.(string)
	}
	var b strings.Builder
	n := 0
	for i := 0; i < len(query); i++ {
		if query[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(query[i])
	}
	s := b.String()
	db.rebound.Store(query, s)
	return s
}

// querier is what *sql.DB, *sql.Conn and *sql.Tx have in common.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// scanner is *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

// exec, query and row run a query (written with "?") on q.
func (db *DB) exec(ctx context.Context, q querier, query string, args ...any) (sql.Result, error) {
	return q.ExecContext(ctx, db.q(query), args...)
}

func (db *DB) query(ctx context.Context, q querier, query string, args ...any) (*sql.Rows, error) {
	return q.QueryContext(ctx, db.q(query), args...)
}

func (db *DB) row(ctx context.Context, q querier, query string, args ...any) *sql.Row {
	return q.QueryRowContext(ctx, db.q(query), args...)
}

// fail turns a database error into the store's: ErrUnavailable when the
// server cannot be reached, the context's error as it is, else the error
// with what was being done.
func (db *DB) fail(op string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, context.Canceled):
		return err
	case db.d.unavailable(err):
		return storeUnavailable(db.d.what, op, err)
	}
	return fmt.Errorf("%s: %s: %w", db.d.what, op, err)
}

// tx runs fn in one transaction (opts as given) and commits when fn
// succeeds and commit is true; otherwise it rolls back.
func (db *DB) tx(ctx context.Context, opts *sql.TxOptions, op string, fn func(tx *sql.Tx) (commit bool, err error)) error {
	tx, err := db.db.BeginTx(ctx, opts)
	if err != nil {
		return db.fail(op+": begin", err)
	}
	defer tx.Rollback()
	commit, err := fn(tx)
	if err != nil || !commit {
		return err
	}
	return db.fail(op+": commit", tx.Commit())
}

// Times: the directory keeps unix nanoseconds (0 for the zero time), the
// sessions, the ledger and the attempt counters unix milliseconds.

func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

func fromMilli(ms int64) time.Time { return time.UnixMilli(ms).UTC() }
