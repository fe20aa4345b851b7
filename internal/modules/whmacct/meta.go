package whmacct

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"time"

	"github.com/uapid/uapid/internal/directory"
	uapisqlite "github.com/uapid/uapid/internal/sqlite"
)

// Notes are what WHM's account functions remember about an account beyond
// the directory: the plan and contact address given to createacct and the
// reason, time and lock of a suspension made by suspendacct. They only
// feed the answers of listaccts and accountsummary; authentication never
// reads them.
type Notes struct {
	Plan         string
	ContactEmail string
	// Suspension is set by suspendacct and cleared by unsuspendacct; it
	// is shown only while the directory says the account is suspended.
	// (An account unsuspended and suspended again with `uapid account`
	// therefore shows the reason of its last suspendacct.)
	Suspension *Suspension
}

// Suspension is the record of one suspendacct.
type Suspension struct {
	Reason string
	Time   time.Time
	// Locked: only root may unsuspend (suspendacct disallowun=1).
	Locked bool
}

// NoteStore keeps Notes per account. Notes belong to one incarnation of an
// account, identified by its user and creation time: notes left behind by
// an account removed outside WHM's functions (for example with `uapid
// account remove`) do not attach to a later account of the same name.
type NoteStore interface {
	// Lookup returns the notes of the given accounts, keyed by user;
	// accounts without notes are absent.
	Lookup(ctx context.Context, accts []directory.Account) (map[string]Notes, error)
	// Put stores the notes of acct, replacing any.
	Put(ctx context.Context, acct directory.Account, n Notes) error
	// Delete forgets the notes of user (no error when there are none).
	Delete(ctx context.Context, user string) error
}

// SQLiteNotes is the NoteStore in uapid's SQLite store (component
// "whmacct"). Its table is created on first use, so that constructing it
// cannot fail.
type SQLiteNotes struct {
	db *sql.DB

	mu       sync.Mutex
	migrated bool
}

// NewSQLiteNotes returns the note store in db (opened with
// internal/sqlite.Open); db stays the caller's.
func NewSQLiteNotes(db *sql.DB) *SQLiteNotes { return &SQLiteNotes{db: db} }

var noteMigrations = []uapisqlite.Migration{{
	Version: 1,
	SQL: `
CREATE TABLE whmacct_notes (
	user           TEXT    NOT NULL PRIMARY KEY,
	created_at     INTEGER NOT NULL,
	plan           TEXT    NOT NULL,
	contact_email  TEXT    NOT NULL,
	suspended      INTEGER NOT NULL,
	suspend_reason TEXT    NOT NULL,
	suspend_time   INTEGER NOT NULL,
	locked         INTEGER NOT NULL
) STRICT;
`,
}}

func (s *SQLiteNotes) migrate(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.migrated {
		return nil
	}
	if err := uapisqlite.Migrate(ctx, s.db, "whmacct", noteMigrations); err != nil {
		return fmt.Errorf("whmacct notes: %w", err)
	}
	s.migrated = true
	return nil
}

// Lookup implements NoteStore.
func (s *SQLiteNotes) Lookup(ctx context.Context, accts []directory.Account) (map[string]Notes, error) {
	if err := s.migrate(ctx); err != nil {
		return nil, err
	}
	query, args := `SELECT user, created_at, plan, contact_email, suspended, suspend_reason, suspend_time, locked FROM whmacct_notes`, []any{}
	if len(accts) == 1 {
		query, args = query+` WHERE user = ?`, []any{accts[0].User}
	}
	created := make(map[string]int64, len(accts))
	for _, a := range accts {
		created[a.User] = a.CreatedAt.UnixNano()
	}
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("whmacct notes: lookup: %w", err)
	}
	defer rows.Close()
	out := map[string]Notes{}
	for rows.Next() {
		var (
			user, plan, email, reason string
			at, stime                 int64
			suspended, locked         int
		)
		if err := rows.Scan(&user, &at, &plan, &email, &suspended, &reason, &stime, &locked); err != nil {
			return nil, fmt.Errorf("whmacct notes: lookup: %w", err)
		}
		if c, ok := created[user]; !ok || c != at {
			continue
		}
		n := Notes{Plan: plan, ContactEmail: email}
		if suspended != 0 {
			n.Suspension = &Suspension{Reason: reason, Time: time.Unix(stime, 0), Locked: locked != 0}
		}
		out[user] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("whmacct notes: lookup: %w", err)
	}
	return out, nil
}

// Put implements NoteStore.
func (s *SQLiteNotes) Put(ctx context.Context, acct directory.Account, n Notes) error {
	if err := s.migrate(ctx); err != nil {
		return err
	}
	var (
		suspended, locked int
		reason            string
		stime             int64
	)
	if n.Suspension != nil {
		suspended, reason, stime = 1, n.Suspension.Reason, n.Suspension.Time.Unix()
		if n.Suspension.Locked {
			locked = 1
		}
	}
	if _, err := s.db.ExecContext(ctx, `INSERT INTO whmacct_notes
		(user, created_at, plan, contact_email, suspended, suspend_reason, suspend_time, locked)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (user) DO UPDATE SET created_at = excluded.created_at, plan = excluded.plan,
			contact_email = excluded.contact_email, suspended = excluded.suspended,
			suspend_reason = excluded.suspend_reason, suspend_time = excluded.suspend_time, locked = excluded.locked`,
		acct.User, acct.CreatedAt.UnixNano(), n.Plan, n.ContactEmail, suspended, reason, stime, locked); err != nil {
		return fmt.Errorf("whmacct notes: put: %w", err)
	}
	return nil
}

// Delete implements NoteStore.
func (s *SQLiteNotes) Delete(ctx context.Context, user string) error {
	if err := s.migrate(ctx); err != nil {
		return err
	}
	if _, err := s.db.ExecContext(ctx, `DELETE FROM whmacct_notes WHERE user = ?`, user); err != nil {
		return fmt.Errorf("whmacct notes: delete: %w", err)
	}
	return nil
}

// noNotes is the NoteStore used when none is configured: it remembers
// nothing.
type noNotes struct{}

func (noNotes) Lookup(context.Context, []directory.Account) (map[string]Notes, error) {
	return map[string]Notes{}, nil
}
func (noNotes) Put(context.Context, directory.Account, Notes) error { return nil }
func (noNotes) Delete(context.Context, string) error                { return nil }
