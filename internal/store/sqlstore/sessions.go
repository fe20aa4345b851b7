package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/uapid/uapid/internal/store"
)

// Sessions is the store.Sessions in SQL. Each guarantee rests on single
// statements: Create is one INSERT whose unique constraints refuse
// duplicates; Consume is one conditional UPDATE … RETURNING (exactly one
// caller, in any process or node, matches the unconsumed row); Delete,
// DeleteByAccount and Sweep are DELETE … RETURNING, so a row is returned
// by whichever statement removed it and by no other.
//
// In SQLite, the writes of one process run through the group-commit
// writer (writer.go). In PostgreSQL, the return URL and the temporary
// database password are sealed with the store's Box, bound to the record
// id and field, so the database holds no usable secret.
type Sessions struct {
	db *DB
}

var _ store.Sessions = (*Sessions)(nil)

const sessionCols = `id, user_name, account, service, token, login_hash, consumed, cookie_hash,
	creator, method, origin, locale, return_url, temp_user, temp_pass, temp_created,
	created_at, last_used, expires_at`

// write runs one session write: through the writer's queue (SQLite) or
// directly (PostgreSQL).
func (s *Sessions) write(ctx context.Context, fn writeFunc) error {
	if s.db.w != nil {
		return s.db.w.do(ctx, fn)
	}
	return fn(ctx, s.db.db)
}

// Contexts under which the sealed fields are bound to their record.
func ctxReturnURL(id string) string { return "uapid/session/" + id + "/return_url" }
func ctxTempPass(id string) string  { return "uapid/session/" + id + "/temp_pass" }

// seal returns what stores the secret field v of record id.
func (s *Sessions) seal(v, context string) any {
	if !s.db.d.sealed {
		return v
	}
	return s.db.box.SealString(v, context)
}

// open reverses seal.
func (s *Sessions) open(b []byte, context string) (string, error) {
	if !s.db.d.sealed {
		return string(b), nil
	}
	return s.db.box.OpenString(b, context)
}

func (s *Sessions) scan(sc scanner) (store.Session, error) {
	var (
		r                        store.Session
		retURL, tempPass         []byte
		created, used, expiresAt int64
	)
	err := sc.Scan(&r.ID, &r.User, &r.Account, &r.Service, &r.Token, &r.LoginHash, &r.Consumed,
		&r.CookieHash, &r.Creator, &r.Method, &r.Origin, &r.Locale, &retURL,
		&r.TempUser, &tempPass, &r.TempCreated, &created, &used, &expiresAt)
	if err != nil {
		return store.Session{}, err
	}
	if r.ReturnURL, err = s.open(retURL, ctxReturnURL(r.ID)); err != nil {
		return store.Session{}, fmt.Errorf("session %s: return URL: %w", r.ID, err)
	}
	if r.TempPass, err = s.open(tempPass, ctxTempPass(r.ID)); err != nil {
		return store.Session{}, fmt.Errorf("session %s: temporary password: %w", r.ID, err)
	}
	r.LoginHash, r.CookieHash = nonEmpty(r.LoginHash), nonEmpty(r.CookieHash)
	r.CreatedAt, r.LastUsed, r.ExpiresAt = fromMilli(created), fromMilli(used), fromMilli(expiresAt)
	return r, nil
}

// scanAll reads every row of rows and closes it.
func (s *Sessions) scanAll(rows *sql.Rows, err error) ([]store.Session, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Session
	for rows.Next() {
		r, err := s.scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// one reads a single record and maps "no row" to ErrNotFound.
func (s *Sessions) one(row *sql.Row, op string) (store.Session, error) {
	r, err := s.scan(row)
	if errors.Is(err, sql.ErrNoRows) {
		return store.Session{}, store.ErrNotFound
	}
	if err != nil {
		return store.Session{}, s.db.fail(op, err)
	}
	return r, nil
}

// hashArg binds a hash: NULL when empty (an empty []byte would bind as an
// empty blob, which UNIQUE would treat as a value).
func hashArg(h []byte) any {
	if len(h) == 0 {
		return nil
	}
	return h
}

// nonEmpty returns h, or nil when h is empty, so that "no hash" is nil.
func nonEmpty(h []byte) []byte {
	if len(h) == 0 {
		return nil
	}
	return h
}

// Create implements store.Sessions. It returns once the record is
// committed.
func (s *Sessions) Create(ctx context.Context, r store.Session) error {
	if err := store.ValidateSession(&r); err != nil {
		return err
	}
	args := []any{r.ID, r.User, r.Account, r.Service, r.Token,
		hashArg(r.LoginHash), r.Consumed, hashArg(r.CookieHash), r.Creator, r.Method,
		r.Origin, r.Locale, s.seal(r.ReturnURL, ctxReturnURL(r.ID)), r.TempUser,
		s.seal(r.TempPass, ctxTempPass(r.ID)), r.TempCreated,
		r.CreatedAt.UnixMilli(), r.LastUsed.UnixMilli(), r.ExpiresAt.UnixMilli()}
	err := s.write(ctx, func(ctx context.Context, q querier) error {
		_, err := s.db.exec(ctx, q, `INSERT INTO sessions (`+sessionCols+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, args...)
		return err
	})
	switch {
	case s.db.d.violates(err):
		return store.ErrExists
	case err != nil && s.db.d.badText(err):
		return store.Errorf(store.ErrInvalid, "a session's text fields must be UTF-8 text")
	}
	return s.db.fail("create session", err)
}

// Get implements store.Sessions.
func (s *Sessions) Get(ctx context.Context, id string) (store.Session, error) {
	if !store.Text(id) {
		return store.Session{}, store.ErrNotFound
	}
	return s.one(s.db.row(ctx, s.db.db, `SELECT `+sessionCols+` FROM sessions WHERE id = ?`, id), "get session")
}

// ByLoginHash implements store.Sessions.
func (s *Sessions) ByLoginHash(ctx context.Context, h []byte) (store.Session, error) {
	if len(h) != store.SessionHashLen {
		return store.Session{}, store.ErrNotFound
	}
	return s.one(s.db.row(ctx, s.db.db, `SELECT `+sessionCols+` FROM sessions WHERE login_hash = ?`, h), "session by login hash")
}

// ByCookieHash implements store.Sessions.
func (s *Sessions) ByCookieHash(ctx context.Context, h []byte) (store.Session, error) {
	if len(h) != store.SessionHashLen {
		return store.Session{}, store.ErrNotFound
	}
	return s.one(s.db.row(ctx, s.db.db, `SELECT `+sessionCols+` FROM sessions WHERE cookie_hash = ?`, h), "session by cookie hash")
}

// state reads, on q, what decides why a conditional update matched no row.
func (s *Sessions) state(ctx context.Context, q querier, id string) (found, consumed bool, expiresAt int64, err error) {
	err = s.db.row(ctx, q, `SELECT consumed, expires_at FROM sessions WHERE id = ?`, id).Scan(&consumed, &expiresAt)
	if errors.Is(err, sql.ErrNoRows) {
		return false, false, 0, nil
	}
	if err != nil {
		return false, false, 0, s.db.fail("session state", err)
	}
	return true, consumed, expiresAt, nil
}

// maxRetries bounds how often Consume and Touch retry when the record
// changed between their conditional update and the look that explains why
// it matched nothing (another process deleted and created it again).
const maxRetries = 3

var errKeepsChanging = errors.New("session store: the record keeps changing")

// Consume implements store.Sessions with one conditional UPDATE …
// RETURNING, so that exactly one caller, in any process, wins.
func (s *Sessions) Consume(ctx context.Context, id string, cookieHash []byte, now, expires time.Time) (store.Session, error) {
	if !store.ValidSessionHash(cookieHash) {
		return store.Session{}, store.Errorf(store.ErrInvalid, "a cookie hash has %d bytes", store.SessionHashLen)
	}
	if !store.Text(id) {
		return store.Session{}, store.ErrNotFound
	}
	nowMs := now.UnixMilli()
	var out store.Session
	err := s.write(ctx, func(ctx context.Context, q querier) error {
		for range maxRetries {
			r, err := s.scan(s.db.row(ctx, q, `UPDATE sessions
				SET consumed = TRUE, cookie_hash = ?, last_used = ?, expires_at = ?
				WHERE id = ? AND NOT consumed AND expires_at > ?
				RETURNING `+sessionCols, hashArg(cookieHash), nowMs, expires.UnixMilli(), id, nowMs))
			switch {
			case err == nil:
				out = r
				return nil
			case s.db.d.violates(err):
				return store.ErrExists
			case !errors.Is(err, sql.ErrNoRows):
				return s.db.fail("consume session", err)
			}
			// No row matched: say why.
			found, consumed, expiresAt, err := s.state(ctx, q, id)
			switch {
			case err != nil:
				return err
			case !found:
				return store.ErrNotFound
			case consumed:
				return store.ErrConsumed
			case expiresAt <= nowMs:
				return store.ErrExpired
			}
		}
		return errKeepsChanging
	})
	if err != nil {
		return store.Session{}, err
	}
	return out, nil
}

// Touch implements store.Sessions.
func (s *Sessions) Touch(ctx context.Context, id string, now, expires time.Time) error {
	if !store.Text(id) {
		return store.ErrNotFound
	}
	nowMs := now.UnixMilli()
	return s.write(ctx, func(ctx context.Context, q querier) error {
		for range maxRetries {
			res, err := s.db.exec(ctx, q, `UPDATE sessions SET last_used = ?, expires_at = ? WHERE id = ? AND expires_at > ?`,
				nowMs, expires.UnixMilli(), id, nowMs)
			if err != nil {
				return s.db.fail("touch session", err)
			}
			if n, err := res.RowsAffected(); err != nil {
				return s.db.fail("touch session", err)
			} else if n == 1 {
				return nil
			}
			found, _, expiresAt, err := s.state(ctx, q, id)
			switch {
			case err != nil:
				return err
			case !found:
				return store.ErrNotFound
			case expiresAt <= nowMs:
				return store.ErrExpired
			}
		}
		return errKeepsChanging
	})
}

// MarkTempCreated implements store.Sessions with one conditional UPDATE.
func (s *Sessions) MarkTempCreated(ctx context.Context, id string) (bool, error) {
	if !store.Text(id) {
		return false, store.ErrNotFound
	}
	var changed bool
	err := s.write(ctx, func(ctx context.Context, q querier) error {
		res, err := s.db.exec(ctx, q, `UPDATE sessions SET temp_created = TRUE WHERE id = ? AND NOT temp_created`, id)
		if err != nil {
			return s.db.fail("mark temporary user created", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return s.db.fail("mark temporary user created", err)
		}
		if n == 1 {
			changed = true
			return nil
		}
		found, _, _, err := s.state(ctx, q, id)
		if err == nil && !found {
			err = store.ErrNotFound
		}
		return err
	})
	return changed, err
}

// Delete implements store.Sessions.
func (s *Sessions) Delete(ctx context.Context, id string) (store.Session, error) {
	if !store.Text(id) {
		return store.Session{}, store.ErrNotFound
	}
	var out store.Session
	err := s.write(ctx, func(ctx context.Context, q querier) error {
		var err error
		out, err = s.one(s.db.row(ctx, q, `DELETE FROM sessions WHERE id = ? RETURNING `+sessionCols, id), "delete session")
		return err
	})
	return out, err
}

// DeleteByAccount implements store.Sessions.
func (s *Sessions) DeleteByAccount(ctx context.Context, account, user string) ([]store.Session, error) {
	if !store.Text(account) || !store.Text(user) {
		return nil, nil
	}
	var out []store.Session
	err := s.write(ctx, func(ctx context.Context, q querier) error {
		var err error
		if user == "" {
			out, err = s.scanAll(s.db.query(ctx, q, `DELETE FROM sessions WHERE account = ? RETURNING `+sessionCols, account))
		} else {
			out, err = s.scanAll(s.db.query(ctx, q, `DELETE FROM sessions WHERE account = ? AND user_name = ? RETURNING `+sessionCols, account, user))
		}
		return err
	})
	if err != nil {
		return nil, s.db.fail("delete sessions of an account", err)
	}
	return out, nil
}

// List implements store.Sessions.
func (s *Sessions) List(ctx context.Context, account string) ([]store.Session, error) {
	if !store.Text(account) {
		return nil, nil
	}
	var out []store.Session
	var err error
	if account == "" {
		out, err = s.scanAll(s.db.query(ctx, s.db.db, `SELECT `+sessionCols+` FROM sessions ORDER BY created_at, id`))
	} else {
		out, err = s.scanAll(s.db.query(ctx, s.db.db, `SELECT `+sessionCols+` FROM sessions WHERE account = ? ORDER BY created_at, id`, account))
	}
	if err != nil {
		return nil, s.db.fail("list sessions", err)
	}
	return out, nil
}

// Sweep implements store.Sessions with DELETE … RETURNING statements
// whose subquery walks the expires_at index, earliest expiry first, and
// (PostgreSQL) skips rows another node's sweep holds, so that sweepers on
// several nodes share the work and never return a record twice.
//
// SQLite removes a chunk of records per statement, each one write of the
// writer, and pauses sweepPause times as long as the last chunk took
// (queueing behind other writes included) before the next: a large sweep
// takes at most a third of the store's write capacity and backs off by
// itself when the store is busy. Every write queued behind a chunk waits
// for it, so the chunk's size adapts to hold the writer for about
// sweepChunkTime (sweepChunker). Expired records are refused by every
// lookup anyway; removing them is not urgent.
func (s *Sessions) Sweep(ctx context.Context, now time.Time, limit int) ([]store.Session, error) {
	var out []store.Session
	for {
		size := s.db.sweep.size(s.db.d.sweepChunk)
		n := size
		switch {
		case n == 0:
			n = limit
		case limit > 0:
			n = min(n, limit-len(out))
		}
		var lim any // NULL: no limit
		if n > 0 {
			lim = int64(n)
		}
		var chunk []store.Session
		var took time.Duration // inside the writer
		start := time.Now()
		err := s.write(ctx, func(ctx context.Context, q querier) error {
			t0 := time.Now()
			defer func() { took = time.Since(t0) }()
			var err error
			chunk, err = s.scanAll(s.db.query(ctx, q, `DELETE FROM sessions WHERE id IN (
					SELECT id FROM sessions WHERE expires_at <= ? ORDER BY expires_at LIMIT ?`+s.db.d.skipLocked+`)
				RETURNING `+sessionCols, now.UnixMilli(), lim))
			return err
		})
		if err != nil {
			return out, s.db.fail("sweep sessions", err)
		}
		if size > 0 && len(chunk) == size {
			s.db.sweep.adapt(size, took)
		}
		// DELETE … RETURNING answers in the order it deleted, which need
		// not be the subquery's: earliest expiry first, as promised.
		slices.SortFunc(chunk, func(a, b store.Session) int {
			return cmp.Or(a.ExpiresAt.Compare(b.ExpiresAt), strings.Compare(a.ID, b.ID))
		})
		out = append(out, chunk...)
		if n <= 0 || len(chunk) < n || (limit > 0 && len(out) >= limit) {
			return out, nil
		}
		t := time.NewTimer(time.Duration(s.db.d.sweepPause) * time.Since(start))
		select {
		case <-ctx.Done():
			t.Stop()
			return out, ctx.Err()
		case <-t.C:
		}
	}
}

// WriteStats reports how many transactions the SQLite writer ran and how
// many session writes they held (zeros for PostgreSQL).
func (s *Sessions) WriteStats() (commits, writes int64) { return s.db.WriteStats() }

// The chunk size of SQLite sweeps adapts so that one chunk holds the
// writer for about sweepChunkTime: halved when a full chunk took more
// than twice that, doubled when it took less than half, within
// [sweepChunkMin, sweepChunkMax]. A chunk's time grows with the store (a
// million rows beside the expired ones make each delete touch more pages
// that are not cached) and with the disk; a fixed size that suits an
// empty store on tmpfs starves creates on a large store on a busy disk.
const (
	sweepChunkTime = 2 * time.Millisecond
	sweepChunkMin  = 16
	sweepChunkMax  = 2048
)

// sweepChunker keeps the current chunk size of a store's sweeps.
type sweepChunker struct{ n atomic.Int64 }

// size returns the chunk size to use: initial until the first full chunk
// adapted it; 0 (no chunks) when initial is 0.
func (c *sweepChunker) size(initial int) int {
	if initial <= 0 {
		return 0
	}
	if n := c.n.Load(); n > 0 {
		return int(n)
	}
	return initial
}

// adapt records that a full chunk of n records took d inside the writer.
func (c *sweepChunker) adapt(n int, d time.Duration) {
	switch {
	case d > 2*sweepChunkTime && n > sweepChunkMin:
		n = max(n/2, sweepChunkMin)
	case d < sweepChunkTime/2 && n < sweepChunkMax:
		n = min(n*2, sweepChunkMax)
	}
	c.n.Store(int64(n))
}
