package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/uapid/uapid/internal/store"
)

// Tickets is the store.Tickets in SQL: one row per ticket, keyed by its
// hash. CreateTicket is one INSERT whose primary key refuses a duplicate;
// TakeTicket is one DELETE … RETURNING, so of several callers in any
// process or node exactly one gets the row. In SQLite the writes go
// through the sessions' group-commit writer.
type Tickets struct {
	db *DB
}

var _ store.Tickets = (*Tickets)(nil)

// Tickets returns the sign-on tickets of the store.
func (db *DB) Tickets() *Tickets { return &Tickets{db: db} }

// write runs one ticket write the way session writes run.
func (t *Tickets) write(ctx context.Context, fn writeFunc) error {
	return (&Sessions{db: t.db}).write(ctx, fn)
}

// CreateTicket implements store.Tickets.
func (t *Tickets) CreateTicket(ctx context.Context, x store.Ticket) error {
	if err := store.ValidateTicket(&x); err != nil {
		return err
	}
	err := t.write(ctx, func(ctx context.Context, q querier) error {
		_, err := t.db.exec(ctx, q, `INSERT INTO signon_tickets (hash, session_id, expires_at) VALUES (?, ?, ?)`,
			x.Hash, x.SessionID, x.ExpiresAt.UnixMilli())
		return err
	})
	if t.db.d.violates(err) {
		return store.ErrExists
	}
	return t.db.fail("create sign-on ticket", err)
}

// TakeTicket implements store.Tickets.
func (t *Tickets) TakeTicket(ctx context.Context, hash []byte, now time.Time) (store.Ticket, error) {
	if len(hash) != store.TicketHashLen {
		return store.Ticket{}, store.ErrNotFound
	}
	x := store.Ticket{Hash: hash}
	var exp int64
	err := t.write(ctx, func(ctx context.Context, q querier) error {
		return t.db.row(ctx, q, `DELETE FROM signon_tickets WHERE hash = ? RETURNING session_id, expires_at`, hash).Scan(&x.SessionID, &exp)
	})
	if errors.Is(err, sql.ErrNoRows) {
		return store.Ticket{}, store.ErrNotFound
	}
	if err != nil {
		return store.Ticket{}, t.db.fail("take sign-on ticket", err)
	}
	x.ExpiresAt = time.UnixMilli(exp).UTC()
	if !now.Before(x.ExpiresAt) {
		return store.Ticket{}, store.ErrExpired
	}
	return x, nil
}

// SweepTickets implements store.Tickets.
func (t *Tickets) SweepTickets(ctx context.Context, now time.Time) (int, error) {
	var n int64
	err := t.write(ctx, func(ctx context.Context, q querier) error {
		res, err := t.db.exec(ctx, q, `DELETE FROM signon_tickets WHERE expires_at <= ?`, now.UnixMilli())
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return int(n), t.db.fail("sweep sign-on tickets", err)
}
