package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/uapid/uapid/internal/store"
)

// Attempts is the store.Attempts in SQL: one row per failed attempt, one
// per block (with its strike count and the time it may be forgotten), one
// per trusted (user, address) pair. On PostgreSQL every node counts in the
// same tables, so the limits hold for the cluster.
type Attempts struct {
	db *DB
}

var _ store.Attempts = (*Attempts)(nil)

// badKey refuses a key the database cannot hold (PostgreSQL text takes
// neither NUL nor invalid UTF-8): the user a client typed may be anything.
// Such a key is never blocked nor trusted.
func badKey(k store.AttemptKey) error {
	if store.Text(k.Kind) && store.Text(k.Value) {
		return nil
	}
	return store.Errorf(store.ErrInvalid, "an attempt key must be UTF-8 text without NUL")
}

// lockKey serialises, on PostgreSQL, the transactions of tx's kind on
// key: without it, two failures counted at once under READ COMMITTED
// would each count the other's row, or neither.
func (a *Attempts) lockKey(ctx context.Context, tx *sql.Tx, key store.AttemptKey) error {
	if a.db.d.lockAttemptKey == "" {
		return nil
	}
	_, err := a.db.exec(ctx, tx, a.db.d.lockAttemptKey, key.Kind, key.Value)
	return err
}

// Failure implements store.Attempts in one transaction: forget the key's
// failures that left the window and its block if that may be forgotten,
// record this failure, and read the key's state.
func (a *Attempts) Failure(ctx context.Context, key store.AttemptKey, now time.Time, window time.Duration) (store.AttemptState, error) {
	if err := badKey(key); err != nil {
		return store.AttemptState{}, err
	}
	var st store.AttemptState
	nowMs := now.UnixMilli()
	err := a.db.tx(ctx, nil, "count failure", func(tx *sql.Tx) (bool, error) {
		if err := a.lockKey(ctx, tx, key); err != nil {
			return false, a.db.fail("count failure", err)
		}
		for _, q := range []struct {
			query string
			args  []any
		}{
			{`DELETE FROM attempt_failures WHERE kind = ? AND subject = ? AND failed_at <= ?`, []any{key.Kind, key.Value, now.Add(-window).UnixMilli()}},
			{`DELETE FROM attempt_blocks WHERE kind = ? AND subject = ? AND forget_at <= ?`, []any{key.Kind, key.Value, nowMs}},
			{`INSERT INTO attempt_failures (kind, subject, failed_at) VALUES (?, ?, ?)`, []any{key.Kind, key.Value, nowMs}},
		} {
			if _, err := a.db.exec(ctx, tx, q.query, q.args...); err != nil {
				return false, a.db.fail("count failure", err)
			}
		}
		if err := a.db.row(ctx, tx, `SELECT COUNT(*) FROM attempt_failures WHERE kind = ? AND subject = ?`,
			key.Kind, key.Value).Scan(&st.Failures); err != nil {
			return false, a.db.fail("count failure", err)
		}
		var until int64
		err := a.db.row(ctx, tx, `SELECT blocked_until, strikes FROM attempt_blocks WHERE kind = ? AND subject = ?`,
			key.Kind, key.Value).Scan(&until, &st.Strikes)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return false, a.db.fail("count failure", err)
		default:
			st.BlockedUntil = fromMilli(until)
		}
		return true, nil
	})
	if err != nil {
		return store.AttemptState{}, err
	}
	return st, nil
}

// Block implements store.Attempts: the compare-and-swap is one INSERT …
// ON CONFLICT DO NOTHING (no block yet) or one UPDATE … WHERE strikes = ?.
func (a *Attempts) Block(ctx context.Context, key store.AttemptKey, strikes int, until, forget time.Time) (bool, error) {
	if err := badKey(key); err != nil {
		return false, err
	}
	var done bool
	err := a.db.tx(ctx, nil, "block", func(tx *sql.Tx) (bool, error) {
		if err := a.lockKey(ctx, tx, key); err != nil {
			return false, a.db.fail("block", err)
		}
		var res sql.Result
		var err error
		if strikes == 0 {
			res, err = a.db.exec(ctx, tx, `INSERT INTO attempt_blocks (kind, subject, blocked_until, strikes, forget_at)
				VALUES (?, ?, ?, 1, ?) ON CONFLICT (kind, subject) DO NOTHING`,
				key.Kind, key.Value, until.UnixMilli(), forget.UnixMilli())
		} else {
			res, err = a.db.exec(ctx, tx, `UPDATE attempt_blocks SET blocked_until = ?, strikes = strikes + 1, forget_at = ?
				WHERE kind = ? AND subject = ? AND strikes = ?`,
				until.UnixMilli(), forget.UnixMilli(), key.Kind, key.Value, strikes)
		}
		if err != nil {
			return false, a.db.fail("block", err)
		}
		n, err := res.RowsAffected()
		if err != nil || n != 1 {
			return false, a.db.fail("block", err)
		}
		if _, err := a.db.exec(ctx, tx, `DELETE FROM attempt_failures WHERE kind = ? AND subject = ?`, key.Kind, key.Value); err != nil {
			return false, a.db.fail("block", err)
		}
		done = true
		return true, nil
	})
	return done, err
}

// BlockedUntil implements store.Attempts with one query for all keys.
func (a *Attempts) BlockedUntil(ctx context.Context, keys []store.AttemptKey, now time.Time) ([]time.Time, error) {
	out := make([]time.Time, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	where := make([]string, 0, len(keys))
	args := make([]any, 0, 2*len(keys)+1)
	args = append(args, now.UnixMilli())
	for _, k := range keys {
		if badKey(k) == nil {
			where = append(where, `(kind = ? AND subject = ?)`)
			args = append(args, k.Kind, k.Value)
		}
	}
	if len(where) == 0 {
		return out, nil
	}
	rows, err := a.db.query(ctx, a.db.db, `SELECT kind, subject, blocked_until FROM attempt_blocks
		WHERE blocked_until > ? AND (`+strings.Join(where, ` OR `)+`)`, args...)
	if err != nil {
		return nil, a.db.fail("blocks", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k store.AttemptKey
		var until int64
		if err := rows.Scan(&k.Kind, &k.Value, &until); err != nil {
			return nil, a.db.fail("blocks", err)
		}
		for i, want := range keys {
			if want == k {
				out[i] = fromMilli(until)
			}
		}
	}
	return out, a.db.fail("blocks", rows.Err())
}

// Trust implements store.Attempts.
func (a *Attempts) Trust(ctx context.Context, user, addr string, until time.Time) error {
	if !store.Text(user) || !store.Text(addr) {
		return store.Errorf(store.ErrInvalid, "a trusted user and address must be UTF-8 text without NUL")
	}
	_, err := a.db.exec(ctx, a.db.db, `INSERT INTO attempt_trust (user_name, addr, trusted_until) VALUES (?, ?, ?)
		ON CONFLICT (user_name, addr) DO UPDATE SET trusted_until = excluded.trusted_until`, user, addr, until.UnixMilli())
	return a.db.fail("trust", err)
}

// Trusted implements store.Attempts.
func (a *Attempts) Trusted(ctx context.Context, user, addr string, now time.Time) (bool, error) {
	if !store.Text(user) || !store.Text(addr) {
		return false, nil
	}
	var ok bool
	err := a.db.row(ctx, a.db.db, `SELECT EXISTS (SELECT 1 FROM attempt_trust WHERE user_name = ? AND addr = ? AND trusted_until > ?)`,
		user, addr, now.UnixMilli()).Scan(&ok)
	return ok, a.db.fail("trusted", err)
}

// Sweep implements store.Attempts.
func (a *Attempts) Sweep(ctx context.Context, now time.Time, keep time.Duration) error {
	nowMs := now.UnixMilli()
	for _, q := range []struct {
		query string
		arg   int64
	}{
		{`DELETE FROM attempt_failures WHERE failed_at <= ?`, now.Add(-keep).UnixMilli()},
		{`DELETE FROM attempt_blocks WHERE forget_at <= ?`, nowMs},
		{`DELETE FROM attempt_trust WHERE trusted_until <= ?`, nowMs},
	} {
		if _, err := a.db.exec(ctx, a.db.db, q.query, q.arg); err != nil {
			return a.db.fail("sweep attempts", err)
		}
	}
	return nil
}
