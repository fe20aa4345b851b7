package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/uapid/uapid/internal/tempdb"
)

// Ledger is the tempdb.Ledger in PostgreSQL: every node records the
// temporary database users it creates in the same table, so a session that
// ends on another node (or a sweep on any node) finds and drops them. It
// never stores a password.
type Ledger struct {
	db *DB
}

var _ tempdb.Ledger = (*Ledger)(nil)

// NewLedger returns the ledger of db.
func NewLedger(db *DB) *Ledger { return &Ledger{db: db} }

// Record implements tempdb.Ledger with one INSERT … ON CONFLICT DO
// NOTHING: recording the same name for the same session again is a no-op;
// for another session it is tempdb.ErrNameTaken.
func (l *Ledger) Record(ctx context.Context, u tempdb.User) error {
	if u.Name == "" || u.SessionID == "" {
		return fmt.Errorf("%w: name and session id are required", tempdb.ErrInvalidUser)
	}
	if !storable(u.Name) || !storable(u.Account) || !storable(u.SessionID) {
		return fmt.Errorf("%w: name, account and session id must be UTF-8 text without NUL", tempdb.ErrInvalidUser)
	}
	tag, err := l.db.pool.Exec(ctx,
		`INSERT INTO temp_users (name, account, session_id, created_at) VALUES ($1, $2, $3, $4)
		 ON CONFLICT (name) DO NOTHING`,
		u.Name, u.Account, u.SessionID, time.Now().UnixMilli())
	if err != nil {
		return fmt.Errorf("tempdb ledger: record: %w", err)
	}
	if tag.RowsAffected() == 1 {
		return nil
	}
	prev, ok, err := l.Get(ctx, u.Name)
	if err != nil {
		return err
	}
	if ok && prev.SessionID == u.SessionID && prev.Account == u.Account {
		return nil
	}
	return tempdb.ErrNameTaken
}

// Remove implements tempdb.Ledger (no error if absent).
func (l *Ledger) Remove(ctx context.Context, name string) error {
	if !storable(name) {
		return nil
	}
	if _, err := l.db.pool.Exec(ctx, `DELETE FROM temp_users WHERE name = $1`, name); err != nil {
		return fmt.Errorf("tempdb ledger: remove: %w", err)
	}
	return nil
}

// Get returns the entry of name and whether there is one (the fast path
// tempdb.Manager uses when a ledger offers it).
func (l *Ledger) Get(ctx context.Context, name string) (tempdb.User, bool, error) {
	if !storable(name) {
		return tempdb.User{}, false, nil
	}
	u := tempdb.User{Name: name}
	err := l.db.pool.QueryRow(ctx,
		`SELECT account, session_id FROM temp_users WHERE name = $1`, name).Scan(&u.Account, &u.SessionID)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return tempdb.User{}, false, nil
	case err != nil:
		return tempdb.User{}, false, fmt.Errorf("tempdb ledger: get: %w", err)
	}
	return u, true, nil
}

// List implements tempdb.Ledger: every entry, oldest first, Password empty.
func (l *Ledger) List(ctx context.Context) ([]tempdb.User, error) {
	rows, err := l.db.pool.Query(ctx,
		`SELECT name, account, session_id FROM temp_users ORDER BY created_at, name`)
	if err != nil {
		return nil, fmt.Errorf("tempdb ledger: list: %w", err)
	}
	out, err := nilIfEmpty(pgx.CollectRows(rows, func(r pgx.CollectableRow) (tempdb.User, error) {
		var u tempdb.User
		err := r.Scan(&u.Name, &u.Account, &u.SessionID)
		return u, err
	}))
	if err != nil {
		return nil, fmt.Errorf("tempdb ledger: list: %w", err)
	}
	return out, nil
}
