package session

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	uapisqlite "github.com/uapid/uapid/internal/sqlite"
)

// SQLite is a Store in uapid's embedded SQLite database. Several processes
// (the server and the CLI) may use the same file at once: every guarantee of
// Store rests on single statements that SQLite runs atomically under its
// write lock, not on anything held in this process.
type SQLite struct {
	db *sql.DB

	insert, get, byLogin, byCookie, consume, touch *sql.Stmt
	stmts                                          []*sql.Stmt
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
	s := &SQLite{db: db}
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

// Close releases the prepared statements; the *sql.DB stays open.
func (s *SQLite) Close() error {
	var first error
	for _, st := range s.stmts {
		if err := st.Close(); err != nil && first == nil {
			first = err
		}
	}
	s.stmts = nil
	return first
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

// Create implements Store.
func (s *SQLite) Create(ctx context.Context, r Record) error {
	if err := validate(&r); err != nil {
		return err
	}
	_, err := s.insert.ExecContext(ctx, r.ID, r.User, r.Account, r.Service, r.Token,
		hashArg(r.LoginHash), b2i(r.Consumed), hashArg(r.CookieHash), r.Creator, r.Method,
		r.Origin, r.Locale, r.ReturnURL, r.TempUser, r.TempPass, b2i(r.TempCreated),
		r.CreatedAt.UnixMilli(), r.LastUsed.UnixMilli(), r.ExpiresAt.UnixMilli())
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

// state reads what decides why a conditional update matched no row.
func (s *SQLite) state(ctx context.Context, id string) (found, consumed bool, expiresAt int64, err error) {
	var c int64
	err = s.db.QueryRowContext(ctx,
		`SELECT consumed, expires_at FROM sessions WHERE id = ?`, id).Scan(&c, &expiresAt)
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
	for range maxRetries {
		r, err := scanRecord(s.consume.QueryRowContext(ctx,
			hashArg(cookieHash), nowMs, expires.UnixMilli(), id, nowMs))
		switch {
		case err == nil:
			return r, nil
		case isUniqueViolation(err):
			return Record{}, ErrExists
		case !errors.Is(err, sql.ErrNoRows):
			return Record{}, fmt.Errorf("session store: consume: %w", err)
		}
		found, consumed, expiresAt, err := s.state(ctx, id)
		switch {
		case err != nil:
			return Record{}, err
		case !found:
			return Record{}, ErrNotFound
		case consumed:
			return Record{}, ErrConsumed
		case expiresAt <= nowMs:
			return Record{}, ErrExpired
		}
		// Changed in between (deleted and created again): try again.
	}
	return Record{}, fmt.Errorf("session store: consume: record keeps changing")
}

// Touch implements Store.
func (s *SQLite) Touch(ctx context.Context, id string, now, expires time.Time) error {
	nowMs := now.UnixMilli()
	for range maxRetries {
		res, err := s.touch.ExecContext(ctx, nowMs, expires.UnixMilli(), id, nowMs)
		if err != nil {
			return fmt.Errorf("session store: touch: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("session store: touch: %w", err)
		} else if n == 1 {
			return nil
		}
		found, _, expiresAt, err := s.state(ctx, id)
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
}

// MarkTempCreated implements Store.
func (s *SQLite) MarkTempCreated(ctx context.Context, id string) (bool, error) {
	res, err := s.db.ExecContext(ctx,
		`UPDATE sessions SET temp_created = 1 WHERE id = ? AND temp_created = 0`, id)
	if err != nil {
		return false, fmt.Errorf("session store: mark temp created: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("session store: mark temp created: %w", err)
	}
	if n == 1 {
		return true, nil
	}
	found, _, _, err := s.state(ctx, id)
	if err != nil {
		return false, err
	}
	if !found {
		return false, ErrNotFound
	}
	return false, nil
}

// Delete implements Store.
func (s *SQLite) Delete(ctx context.Context, id string) (Record, error) {
	return one(s.db.QueryRowContext(ctx,
		`DELETE FROM sessions WHERE id = ? RETURNING `+sqlCols, id), "delete")
}

// DeleteByAccount implements Store.
func (s *SQLite) DeleteByAccount(ctx context.Context, account, user string) ([]Record, error) {
	var (
		rows *sql.Rows
		err  error
	)
	if user == "" {
		rows, err = s.db.QueryContext(ctx,
			`DELETE FROM sessions WHERE account = ? RETURNING `+sqlCols, account)
	} else {
		rows, err = s.db.QueryContext(ctx,
			`DELETE FROM sessions WHERE account = ? AND user = ? RETURNING `+sqlCols, account, user)
	}
	out, err := scanRecords(rows, err)
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

// Sweep implements Store with one DELETE … RETURNING whose subquery walks
// the expires_at index, earliest expiry first.
func (s *SQLite) Sweep(ctx context.Context, now time.Time, limit int) ([]Record, error) {
	if limit <= 0 {
		limit = -1 // SQLite: no limit
	}
	out, err := scanRecords(s.db.QueryContext(ctx,
		`DELETE FROM sessions WHERE id IN (
			SELECT id FROM sessions WHERE expires_at <= ? ORDER BY expires_at LIMIT ?)
		RETURNING `+sqlCols, now.UnixMilli(), limit))
	if err != nil {
		return nil, fmt.Errorf("session store: sweep: %w", err)
	}
	return out, nil
}
