package session

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	uapisqlite "github.com/uapid/uapid/internal/sqlite"
)

// SQLite is a Store in uapid's embedded SQLite database. Several processes
// (the server and the CLI) may use the same file at once: every guarantee of
// Store rests on single statements that SQLite runs atomically under its
// write lock, not on anything held in this process.
//
// Within a process, every write goes through one queue (see writer): the
// writes waiting at the same time are run together in one transaction,
// and each caller is answered only after that transaction has committed
// (group commit). Concurrent writers of one process thus never compete for
// SQLite's write lock (whose busy handler would make the losers sleep for
// milliseconds), and one commit serves many writes, without weakening
// durability: an answered Create is committed.
type SQLite struct {
	db *sql.DB
	w  writer

	insert, get, byLogin, byCookie, consume, touch, stateStmt *sql.Stmt
	stmts                                                     []*sql.Stmt
}

var _ Store = (*SQLite)(nil)

// sqliteMigrations is the schema of the "sessions" component. Times are
// unix milliseconds; an absent hash is NULL (so UNIQUE ignores it).
var sqliteMigrations = []uapisqlite.Migration{{
	Version: 1,
	SQL: `
CREATE TABLE sessions (
	id           TEXT    NOT NULL PRIMARY KEY,
	user         TEXT    NOT NULL,
	account      TEXT    NOT NULL,
	service      TEXT    NOT NULL,
	token        TEXT    NOT NULL UNIQUE,
	login_hash   BLOB    UNIQUE,
	consumed     INTEGER NOT NULL DEFAULT 0 CHECK (consumed IN (0, 1)),
	cookie_hash  BLOB    UNIQUE,
	creator      TEXT    NOT NULL,
	method       TEXT    NOT NULL,
	origin       TEXT    NOT NULL,
	locale       TEXT    NOT NULL,
	return_url   TEXT    NOT NULL,
	temp_user    TEXT    NOT NULL,
	temp_pass    TEXT    NOT NULL,
	temp_created INTEGER NOT NULL DEFAULT 0 CHECK (temp_created IN (0, 1)),
	created_at   INTEGER NOT NULL,
	last_used    INTEGER NOT NULL,
	expires_at   INTEGER NOT NULL
) STRICT;
CREATE INDEX sessions_expires_at ON sessions (expires_at);
CREATE INDEX sessions_account ON sessions (account, created_at);
`,
}}

// sqlCols lists the columns in the order scanRecord reads them.
const sqlCols = `id, user, account, service, token, login_hash, consumed, cookie_hash,
	creator, method, origin, locale, return_url, temp_user, temp_pass, temp_created,
	created_at, last_used, expires_at`

// NewSQLite applies the session schema to db (opened with
// internal/sqlite.Open) and returns a store on it. db stays owned by the
// caller: Close does not close it.
func NewSQLite(ctx context.Context, db *sql.DB) (*SQLite, error) {
	if err := uapisqlite.Migrate(ctx, db, "sessions", sqliteMigrations); err != nil {
		return nil, fmt.Errorf("session store: %w", err)
	}
	s := &SQLite{db: db, w: writer{db: db}}
	for _, p := range []struct {
		dst   **sql.Stmt
		query string
	}{
		{&s.insert, `INSERT INTO sessions (` + sqlCols + `)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`},
		{&s.get, `SELECT ` + sqlCols + ` FROM sessions WHERE id = ?`},
		{&s.byLogin, `SELECT ` + sqlCols + ` FROM sessions WHERE login_hash = ?`},
		{&s.byCookie, `SELECT ` + sqlCols + ` FROM sessions WHERE cookie_hash = ?`},
		{&s.consume, `UPDATE sessions SET consumed = 1, cookie_hash = ?, last_used = ?, expires_at = ?
			WHERE id = ? AND consumed = 0 AND expires_at > ?
			RETURNING ` + sqlCols},
		{&s.touch, `UPDATE sessions SET last_used = ?, expires_at = ?
			WHERE id = ? AND expires_at > ?`},
		{&s.stateStmt, `SELECT consumed, expires_at FROM sessions WHERE id = ?`},
	} {
		st, err := db.PrepareContext(ctx, p.query)
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("session store: prepare: %w", err)
		}
		*p.dst = st
		s.stmts = append(s.stmts, st)
	}
	return s, nil
}

// Close releases the prepared statements and the writer's connection; the
// *sql.DB stays open.
func (s *SQLite) Close() error {
	first := s.w.close()
	for _, st := range s.stmts {
		if err := st.Close(); err != nil && first == nil {
			first = err
		}
	}
	s.stmts = nil
	return first
}

// WriteStats reports how many transactions the store's writer has run and
// how many writes they held: writes/commits is the batching achieved.
func (s *SQLite) WriteStats() (commits, writes int64) {
	return s.w.txs.Load(), s.w.writes.Load()
}

// maxBatch bounds how many writes one transaction of the writer runs.
const maxBatch = 256

// writer runs the store's writes, in the order they arrive, in batches:
// the first caller to find the queue empty becomes the leader, takes every
// write queued by then (its own first), runs them in one IMMEDIATE
// transaction and commits; then it answers the others of the batch and
// hands the lead to the first write queued meanwhile. A write that finds a
// leader at work waits. A lone write is a batch of one. Every batch runs on
// the same connection (see writerCacheKiB). Each write is answered only once its transaction committed,
// so a write that succeeded is durable (WAL, synchronous=NORMAL) when its
// caller hears of it.
//
// A failing write does not fail its batch: SQLite rolls back only the
// failing statement of a constraint violation, and a write's own logical
// failure (no row matched) changes nothing. If the transaction cannot be
// begun or committed, every write of the batch gets that error.
type writer struct {
	db    *sql.DB
	mu    sync.Mutex
	queue []*writeReq
	// connMu guards conn, the connection batches run on (see
	// writerCacheKiB); the leader holds it while it runs a batch.
	connMu sync.Mutex
	conn   *sql.Conn
	// txs counts the transactions run, writes the writes: their ratio is
	// the batching achieved.
	txs, writes atomic.Int64
}

// writeFunc runs one write on q (the *sql.Tx of its batch). It must not
// call the writer again.
type writeFunc func(ctx context.Context, q querier) error

// querier is what *sql.DB and *sql.Tx have in common, plus the way to use
// a prepared statement on it.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

type writeReq struct {
	ctx  context.Context
	fn   writeFunc
	err  error
	done bool          // guarded by writer.mu
	wake chan struct{} // "done" or "you lead now"
}

// do queues fn and returns its error once its batch has committed.
func (w *writer) do(ctx context.Context, fn writeFunc) error {
	req := &writeReq{ctx: ctx, fn: fn, wake: make(chan struct{}, 1)}
	w.mu.Lock()
	w.queue = append(w.queue, req)
	lead := len(w.queue) == 1
	w.mu.Unlock()
	if !lead {
		// Waiting does not give up on ctx: the leader may be running fn
		// already. It checks ctx before it starts fn.
		<-req.wake
		w.mu.Lock()
		done := req.done
		w.mu.Unlock()
		if done {
			return req.err
		}
	}
	// req is at the head of the queue: lead one batch. Yielding first lets
	// goroutines that are about to queue a write (typically those just
	// answered) join this batch rather than wait for the next one.
	runtime.Gosched()
	w.mu.Lock()
	batch := slices.Clone(w.queue[:min(len(w.queue), maxBatch)])
	w.mu.Unlock()
	w.run(batch)
	w.mu.Lock()
	n := copy(w.queue, w.queue[len(batch):])
	clear(w.queue[n:])
	w.queue = w.queue[:n]
	for _, r := range batch[1:] {
		r.done = true
		r.wake <- struct{}{}
	}
	if len(w.queue) > 0 {
		w.queue[0].wake <- struct{}{} // the next leader
	}
	w.mu.Unlock()
	return req.err
}

// writerCacheKiB is the page cache of the writer's connection. Every
// other connection's cache is emptied whenever the writer commits (SQLite
// keeps a connection's cache only while no other connection has written),
// so this one cache is the only one that stays warm: with a million
// sessions, it holds the index pages that random keys (tokens, login
// hashes, ids) keep touching, which the default 2 MiB cannot.
const writerCacheKiB = 64 << 10

// connection returns the connection every batch runs on, opening it on first
// use. Only the leader calls it (under connMu).
func (w *writer) connection(ctx context.Context) (*sql.Conn, error) {
	if w.conn != nil {
		return w.conn, nil
	}
	c, err := w.db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := c.ExecContext(ctx, fmt.Sprintf("PRAGMA cache_size = -%d", writerCacheKiB)); err != nil {
		c.Close()
		return nil, err
	}
	w.conn = c
	return c, nil
}

// close returns the writer's connection to the pool.
func (w *writer) close() error {
	w.connMu.Lock()
	defer w.connMu.Unlock()
	if w.conn == nil {
		return nil
	}
	err := w.conn.Close()
	w.conn = nil
	return err
}

// run executes one batch in one transaction on the writer's connection.
// The statements run under a context that the callers' cancellation does
// not reach: interrupting a statement inside a transaction would roll back
// the whole batch.
func (w *writer) run(batch []*writeReq) {
	ctx := context.WithoutCancel(batch[0].ctx)
	if len(batch) == 1 {
		if err := batch[0].ctx.Err(); err != nil {
			batch[0].err = err
			return
		}
	}
	w.connMu.Lock()
	defer w.connMu.Unlock()
	w.txs.Add(1)
	w.writes.Add(int64(len(batch)))
	fail := func(what string, err error) {
		for _, r := range batch {
			r.err = fmt.Errorf("session store: %s: %w", what, err)
		}
	}
	conn, err := w.connection(ctx)
	if err != nil {
		fail("connect", err)
		return
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		// The connection may be broken: the next batch opens another.
		w.conn.Close()
		w.conn = nil
		fail("begin", err)
		return
	}
	for _, r := range batch {
		if r.err = r.ctx.Err(); r.err == nil {
			r.err = r.fn(ctx, tx)
		}
	}
	if err := tx.Commit(); err != nil {
		fail("commit", err)
	}
}

// stmt returns st for use on q.
func stmt(ctx context.Context, q querier, st *sql.Stmt) *sql.Stmt {
	if tx, ok := q.(*sql.Tx); ok {
		return tx.StmtContext(ctx, st)
	}
	return st
}

// scanner is *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

func scanRecord(sc scanner) (Record, error) {
	var (
		r                        Record
		consumed, tempCreated    int64
		created, used, expiresAt int64
	)
	err := sc.Scan(&r.ID, &r.User, &r.Account, &r.Service, &r.Token, &r.LoginHash, &consumed,
		&r.CookieHash, &r.Creator, &r.Method, &r.Origin, &r.Locale, &r.ReturnURL,
		&r.TempUser, &r.TempPass, &tempCreated, &created, &used, &expiresAt)
	if err != nil {
		return Record{}, err
	}
	r.Consumed, r.TempCreated = consumed != 0, tempCreated != 0
	r.LoginHash, r.CookieHash = nonEmpty(r.LoginHash), nonEmpty(r.CookieHash)
	r.CreatedAt, r.LastUsed, r.ExpiresAt = fromMilli(created), fromMilli(used), fromMilli(expiresAt)
	return r, nil
}

// scanRecords reads every row of rows and closes it.
func scanRecords(rows *sql.Rows, err error) ([]Record, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Record
	for rows.Next() {
		r, err := scanRecord(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// hashArg binds a hash: NULL when empty (an empty []byte would bind as an
// empty blob, which UNIQUE would treat as a value).
func hashArg(h []byte) any {
	if len(h) == 0 {
		return nil
	}
	return h
}

// isUniqueViolation reports whether err is SQLite refusing a duplicate
// primary key or UNIQUE value.
func isUniqueViolation(err error) bool {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	switch se.Code() {
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		return true
	}
	return false
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// Create implements Store. It returns once the record is committed.
func (s *SQLite) Create(ctx context.Context, r Record) error {
	if err := validate(&r); err != nil {
		return err
	}
	args := []any{r.ID, r.User, r.Account, r.Service, r.Token,
		hashArg(r.LoginHash), b2i(r.Consumed), hashArg(r.CookieHash), r.Creator, r.Method,
		r.Origin, r.Locale, r.ReturnURL, r.TempUser, r.TempPass, b2i(r.TempCreated),
		r.CreatedAt.UnixMilli(), r.LastUsed.UnixMilli(), r.ExpiresAt.UnixMilli()}
	err := s.w.do(ctx, func(ctx context.Context, q querier) error {
		_, err := stmt(ctx, q, s.insert).ExecContext(ctx, args...)
		return err
	})
	if isUniqueViolation(err) {
		return ErrExists
	}
	if err != nil {
		return fmt.Errorf("session store: create: %w", err)
	}
	return nil
}

// one runs a single-record query and maps "no row" to ErrNotFound.
func one(row *sql.Row, what string) (Record, error) {
	r, err := scanRecord(row)
	if errors.Is(err, sql.ErrNoRows) {
		return Record{}, ErrNotFound
	}
	if err != nil {
		return Record{}, fmt.Errorf("session store: %s: %w", what, err)
	}
	return r, nil
}

// Get implements Store.
func (s *SQLite) Get(ctx context.Context, id string) (Record, error) {
	return one(s.get.QueryRowContext(ctx, id), "get")
}

// ByLoginHash implements Store.
func (s *SQLite) ByLoginHash(ctx context.Context, h []byte) (Record, error) {
	if len(h) != hashLen {
		return Record{}, ErrNotFound
	}
	return one(s.byLogin.QueryRowContext(ctx, h), "by login hash")
}

// ByCookieHash implements Store.
func (s *SQLite) ByCookieHash(ctx context.Context, h []byte) (Record, error) {
	if len(h) != hashLen {
		return Record{}, ErrNotFound
	}
	return one(s.byCookie.QueryRowContext(ctx, h), "by cookie hash")
}

// state reads, on q, what decides why a conditional update matched no row.
func (s *SQLite) state(ctx context.Context, q querier, id string) (found, consumed bool, expiresAt int64, err error) {
	var c int64
	err = stmt(ctx, q, s.stateStmt).QueryRowContext(ctx, id).Scan(&c, &expiresAt)
	if errors.Is(err, sql.ErrNoRows) {
		return false, false, 0, nil
	}
	if err != nil {
		return false, false, 0, fmt.Errorf("session store: %w", err)
	}
	return true, c != 0, expiresAt, nil
}

// maxRetries bounds how often Consume and Touch retry when the record
// changed between their conditional update and the look that explains why
// it matched nothing.
const maxRetries = 3

// Consume implements Store with one conditional UPDATE … RETURNING, so that
// exactly one caller, in any process, wins.
func (s *SQLite) Consume(ctx context.Context, id string, cookieHash []byte, now, expires time.Time) (Record, error) {
	if !validHash(cookieHash) {
		return Record{}, ErrInvalid
	}
	nowMs := now.UnixMilli()
	var out Record
	err := s.w.do(ctx, func(ctx context.Context, q querier) error {
		for attempt := 0; ; attempt++ {
			r, err := scanRecord(stmt(ctx, q, s.consume).QueryRowContext(ctx,
				hashArg(cookieHash), nowMs, expires.UnixMilli(), id, nowMs))
			switch {
			case err == nil:
				out = r
				return nil
			case isUniqueViolation(err):
				return ErrExists
			case !errors.Is(err, sql.ErrNoRows):
				return fmt.Errorf("session store: consume: %w", err)
			}
			// No row matched: say why. The writer runs one write at a
			// time and the look runs on the same connection (in the same
			// transaction), so only another process can change the record
			// in between; that is reported as "record keeps changing" if
			// it happens every time.
			if attempt == maxRetries {
				return fmt.Errorf("session store: consume: record keeps changing")
			}
			found, consumed, expiresAt, err := s.state(ctx, q, id)
			switch {
			case err != nil:
				return err
			case !found:
				return ErrNotFound
			case consumed:
				return ErrConsumed
			case expiresAt <= nowMs:
				return ErrExpired
			}
		}
	})
	if err != nil {
		return Record{}, err
	}
	return out, nil
}

// Touch implements Store.
func (s *SQLite) Touch(ctx context.Context, id string, now, expires time.Time) error {
	nowMs := now.UnixMilli()
	return s.w.do(ctx, func(ctx context.Context, q querier) error {
		for range maxRetries {
			res, err := stmt(ctx, q, s.touch).ExecContext(ctx, nowMs, expires.UnixMilli(), id, nowMs)
			if err != nil {
				return fmt.Errorf("session store: touch: %w", err)
			}
			if n, err := res.RowsAffected(); err != nil {
				return fmt.Errorf("session store: touch: %w", err)
			} else if n == 1 {
				return nil
			}
			found, _, expiresAt, err := s.state(ctx, q, id)
			switch {
			case err != nil:
				return err
			case !found:
				return ErrNotFound
			case expiresAt <= nowMs:
				return ErrExpired
			}
		}
		return fmt.Errorf("session store: touch: record keeps changing")
	})
}

// MarkTempCreated implements Store.
func (s *SQLite) MarkTempCreated(ctx context.Context, id string) (bool, error) {
	var changed bool
	err := s.w.do(ctx, func(ctx context.Context, q querier) error {
		res, err := q.ExecContext(ctx,
			`UPDATE sessions SET temp_created = 1 WHERE id = ? AND temp_created = 0`, id)
		if err != nil {
			return fmt.Errorf("session store: mark temp created: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("session store: mark temp created: %w", err)
		}
		if n == 1 {
			changed = true
			return nil
		}
		found, _, _, err := s.state(ctx, q, id)
		if err != nil {
			return err
		}
		if !found {
			return ErrNotFound
		}
		return nil
	})
	return changed, err
}

// Delete implements Store.
func (s *SQLite) Delete(ctx context.Context, id string) (Record, error) {
	var out Record
	err := s.w.do(ctx, func(ctx context.Context, q querier) error {
		r, err := one(q.QueryRowContext(ctx, `DELETE FROM sessions WHERE id = ? RETURNING `+sqlCols, id), "delete")
		out = r
		return err
	})
	return out, err
}

// DeleteByAccount implements Store.
func (s *SQLite) DeleteByAccount(ctx context.Context, account, user string) ([]Record, error) {
	var out []Record
	err := s.w.do(ctx, func(ctx context.Context, q querier) error {
		var (
			rows *sql.Rows
			err  error
		)
		if user == "" {
			rows, err = q.QueryContext(ctx,
				`DELETE FROM sessions WHERE account = ? RETURNING `+sqlCols, account)
		} else {
			rows, err = q.QueryContext(ctx,
				`DELETE FROM sessions WHERE account = ? AND user = ? RETURNING `+sqlCols, account, user)
		}
		out, err = scanRecords(rows, err)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("session store: delete by account: %w", err)
	}
	return out, nil
}

// List implements Store.
func (s *SQLite) List(ctx context.Context, account string) ([]Record, error) {
	var (
		rows *sql.Rows
		err  error
	)
	if account == "" {
		rows, err = s.db.QueryContext(ctx,
			`SELECT `+sqlCols+` FROM sessions ORDER BY created_at, id`)
	} else {
		rows, err = s.db.QueryContext(ctx,
			`SELECT `+sqlCols+` FROM sessions WHERE account = ? ORDER BY created_at, id`, account)
	}
	out, err := scanRecords(rows, err)
	if err != nil {
		return nil, fmt.Errorf("session store: list: %w", err)
	}
	return out, nil
}

// sweepChunk is how many records one statement of Sweep removes. Each
// chunk is one write of the writer, so that creations and logins queued
// meanwhile wait for one short chunk, not for the whole sweep.
const sweepChunk = 32

// sweepPause is how many times the duration of a chunk Sweep waits before
// the next one.
const sweepPause = 3

// Sweep implements Store with DELETE … RETURNING statements whose subquery
// walks the expires_at index, earliest expiry first, sweepChunk records at
// a time. Between two chunks it pauses sweepPause times as long as the
// last one took (queueing behind other writes included), so that a large
// sweep takes at most about a quarter of the store's write capacity and
// backs off by itself when the store is busy: removing a million expired
// sessions (each costs random B-tree page writes in four indexes) must
// not hold up the creations and logins that arrive meanwhile. Expired
// records are refused by every lookup anyway; removing them is not urgent.
func (s *SQLite) Sweep(ctx context.Context, now time.Time, limit int) ([]Record, error) {
	var out []Record
	for limit <= 0 || len(out) < limit {
		n := sweepChunk
		if limit > 0 {
			n = min(n, limit-len(out))
		}
		var chunk []Record
		start := time.Now()
		err := s.w.do(ctx, func(ctx context.Context, q querier) error {
			var err error
			chunk, err = scanRecords(q.QueryContext(ctx,
				`DELETE FROM sessions WHERE id IN (
					SELECT id FROM sessions WHERE expires_at <= ? ORDER BY expires_at LIMIT ?)
				RETURNING `+sqlCols, now.UnixMilli(), n))
			return err
		})
		if err != nil {
			return out, fmt.Errorf("session store: sweep: %w", err)
		}
		out = append(out, chunk...)
		if len(chunk) < n || (limit > 0 && len(out) >= limit) {
			break
		}
		t := time.NewTimer(sweepPause * time.Since(start))
		select {
		case <-ctx.Done():
			t.Stop()
			return out, ctx.Err()
		case <-t.C:
		}
	}
	return out, nil
}
