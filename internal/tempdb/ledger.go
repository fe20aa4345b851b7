package tempdb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	uapisqlite "github.com/uapid/uapid/internal/sqlite"
)

// SQLiteLedger is the Ledger in uapid's SQLite store (component "tempdb").
// It never stores a password.
type SQLiteLedger struct {
	db *sql.DB
}

var (
	_ Ledger       = (*SQLiteLedger)(nil)
	_ ledgerGetter = (*SQLiteLedger)(nil)
)

var ledgerMigrations = []uapisqlite.Migration{{
	Version: 1,
	SQL: `
CREATE TABLE temp_users (
	name       TEXT    NOT NULL PRIMARY KEY,
	account    TEXT    NOT NULL,
	session_id TEXT    NOT NULL,
	created_at INTEGER NOT NULL
) STRICT;
CREATE INDEX temp_users_session ON temp_users (session_id);
`,
}}

// NewSQLiteLedger applies the "tempdb" migrations to db (opened with
// internal/sqlite.Open) and returns a ledger on it. db stays the caller's.
func NewSQLiteLedger(ctx context.Context, db *sql.DB) (*SQLiteLedger, error) {
	if err := uapisqlite.Migrate(ctx, db, "tempdb", ledgerMigrations); err != nil {
		return nil, fmt.Errorf("tempdb ledger: %w", err)
	}
	return &SQLiteLedger{db: db}, nil
}

// Record stores u's name, account and session id with the current time (in
// unix milliseconds). Recording the same name for the same session again
// is a no-op; for another session it is ErrNameTaken.
func (l *SQLiteLedger) Record(ctx context.Context, u User) error {
	if u.Name == "" || u.SessionID == "" {
		return fmt.Errorf("%w: name and session id are required", ErrInvalidUser)
	}
	res, err := l.db.ExecContext(ctx,
		`INSERT INTO temp_users (name, account, session_id, created_at) VALUES (?, ?, ?, ?)
		 ON CONFLICT (name) DO NOTHING`,
		u.Name, u.Account, u.SessionID, time.Now().UnixMilli())
	if err != nil {
		return fmt.Errorf("tempdb ledger: record: %w", err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 1 {
		return nil
	}
	prev, ok, err := l.Get(ctx, u.Name)
	if err != nil {
		return err
	}
	if ok && prev.SessionID == u.SessionID && prev.Account == u.Account {
		return nil
	}
	return ErrNameTaken
}

// Remove forgets name (no error if absent).
func (l *SQLiteLedger) Remove(ctx context.Context, name string) error {
	if _, err := l.db.ExecContext(ctx, `DELETE FROM temp_users WHERE name = ?`, name); err != nil {
		return fmt.Errorf("tempdb ledger: remove: %w", err)
	}
	return nil
}

// Get returns the entry of name and whether there is one.
func (l *SQLiteLedger) Get(ctx context.Context, name string) (User, bool, error) {
	u := User{Name: name}
	err := l.db.QueryRowContext(ctx,
		`SELECT account, session_id FROM temp_users WHERE name = ?`, name).Scan(&u.Account, &u.SessionID)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return User{}, false, nil
	case err != nil:
		return User{}, false, fmt.Errorf("tempdb ledger: get: %w", err)
	}
	return u, true, nil
}

// List returns every entry, oldest first (Password empty).
func (l *SQLiteLedger) List(ctx context.Context) ([]User, error) {
	rows, err := l.db.QueryContext(ctx,
		`SELECT name, account, session_id FROM temp_users ORDER BY created_at, name`)
	if err != nil {
		return nil, fmt.Errorf("tempdb ledger: list: %w", err)
	}
	defer rows.Close()
	var out []User
	for rows.Next() {
		var u User
		if err := rows.Scan(&u.Name, &u.Account, &u.SessionID); err != nil {
			return nil, fmt.Errorf("tempdb ledger: list: %w", err)
		}
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("tempdb ledger: list: %w", err)
	}
	return out, nil
}
