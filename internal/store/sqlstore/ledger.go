package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/uapid/uapid/internal/store"
)

// Ledger is the store.Ledger in SQL: every process and node records the
// temporary database users it creates in the same table, so that a
// session that ends elsewhere (or a sweep anywhere) finds and drops them.
// It never stores a password.
type Ledger struct {
	db *DB
}

var _ store.Ledger = (*Ledger)(nil)

// RecordTempUser implements store.Ledger with one INSERT … ON CONFLICT DO
// NOTHING: the name's uniqueness is the table's.
func (l *Ledger) RecordTempUser(ctx context.Context, u store.TempUser) error {
	if u.Name == "" || u.SessionID == "" {
		return store.Errorf(store.ErrInvalid, "a temporary user needs a name and a session id")
	}
	if !store.Text(u.Name) || !store.Text(u.Account) || !store.Text(u.SessionID) {
		return store.Errorf(store.ErrInvalid, "a temporary user's name, account and session id must be UTF-8 text")
	}
	res, err := l.db.exec(ctx, l.db.db, `INSERT INTO temp_users (name, account, session_id, created_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (name) DO NOTHING`, u.Name, u.Account, u.SessionID, time.Now().UnixMilli())
	if err != nil {
		return l.db.fail("record temporary user", err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 1 {
		return nil
	}
	prev, err := l.GetTempUser(ctx, u.Name)
	if err == nil && prev.SessionID == u.SessionID && prev.Account == u.Account {
		return nil
	}
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	return store.Errorf(store.ErrExists, "the temporary user name is recorded for another session")
}

// RemoveTempUser implements store.Ledger.
func (l *Ledger) RemoveTempUser(ctx context.Context, name string) error {
	if !store.Text(name) {
		return nil
	}
	_, err := l.db.exec(ctx, l.db.db, `DELETE FROM temp_users WHERE name = ?`, name)
	return l.db.fail("remove temporary user", err)
}

// GetTempUser implements store.Ledger.
func (l *Ledger) GetTempUser(ctx context.Context, name string) (store.TempUser, error) {
	if !store.Text(name) {
		return store.TempUser{}, store.ErrNotFound
	}
	u := store.TempUser{Name: name}
	err := l.db.row(ctx, l.db.db, `SELECT account, session_id FROM temp_users WHERE name = ?`, name).Scan(&u.Account, &u.SessionID)
	if errors.Is(err, sql.ErrNoRows) {
		return store.TempUser{}, store.ErrNotFound
	}
	if err != nil {
		return store.TempUser{}, l.db.fail("get temporary user", err)
	}
	return u, nil
}

// ListTempUsers implements store.Ledger.
func (l *Ledger) ListTempUsers(ctx context.Context) ([]store.TempUser, error) {
	rows, err := l.db.query(ctx, l.db.db, `SELECT name, account, session_id FROM temp_users ORDER BY created_at, name`)
	if err != nil {
		return nil, l.db.fail("list temporary users", err)
	}
	defer rows.Close()
	var out []store.TempUser
	for rows.Next() {
		var u store.TempUser
		if err := rows.Scan(&u.Name, &u.Account, &u.SessionID); err != nil {
			return nil, l.db.fail("list temporary users", err)
		}
		out = append(out, u)
	}
	return out, l.db.fail("list temporary users", rows.Err())
}
