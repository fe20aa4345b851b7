package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/uapid/uapid/internal/secretbox"
	"github.com/uapid/uapid/internal/session"
)

// Sessions is a session.Store in PostgreSQL, shared by every node on the
// same database. Each guarantee of session.Store rests on one statement:
// Create is one INSERT whose unique constraints refuse duplicates; Consume
// is one conditional UPDATE … RETURNING (exactly one caller, on any node,
// matches the unconsumed row); Delete, DeleteByAccount and Sweep are
// DELETE … RETURNING, so a row is returned by whichever statement removed
// it and by no other.
//
// ReturnURL and TempPass are sealed with the Box (bound to the record id
// and field), so the database holds no usable secret; the hashes are
// stored as they are. Text fields must be valid UTF-8 without NUL (what
// PostgreSQL text holds); other records are refused with ErrInvalid.
type Sessions struct {
	db  *DB
	box *secretbox.Box
}

var _ session.Store = (*Sessions)(nil)

// NewSessions returns the session store of db, sealing secrets with box
// (required: a shared store keeps no secret in clear).
func NewSessions(db *DB, box *secretbox.Box) (*Sessions, error) {
	if box == nil {
		return nil, errors.New("postgresql session store: an encryption key is required for secrets at rest")
	}
	return &Sessions{db: db, box: box}, nil
}

// Close implements session.Store. It does nothing: the DB belongs to its
// opener.
func (s *Sessions) Close() error { return nil }

const sessCols = `id, user_name, account, service, token, login_hash, consumed, cookie_hash,
	creator, method, origin, locale, return_url, temp_user, temp_pass, temp_created,
	created_at, last_used, expires_at`

// Contexts under which the sealed fields are bound to their record.
func ctxReturnURL(id string) string { return "uapid/session/" + id + "/return_url" }
func ctxTempPass(id string) string  { return "uapid/session/" + id + "/temp_pass" }

func (s *Sessions) scan(row pgx.Row) (session.Record, error) {
	var (
		r                        session.Record
		retURL, tempPass         []byte
		created, used, expiresAt int64
	)
	err := row.Scan(&r.ID, &r.User, &r.Account, &r.Service, &r.Token, &r.LoginHash, &r.Consumed,
		&r.CookieHash, &r.Creator, &r.Method, &r.Origin, &r.Locale, &retURL,
		&r.TempUser, &tempPass, &r.TempCreated, &created, &used, &expiresAt)
	if err != nil {
		return session.Record{}, err
	}
	if r.ReturnURL, err = s.box.OpenString(retURL, ctxReturnURL(r.ID)); err != nil {
		return session.Record{}, fmt.Errorf("session %s: return URL: %w", r.ID, err)
	}
	if r.TempPass, err = s.box.OpenString(tempPass, ctxTempPass(r.ID)); err != nil {
		return session.Record{}, fmt.Errorf("session %s: temporary password: %w", r.ID, err)
	}
	r.LoginHash, r.CookieHash = nonEmpty(r.LoginHash), nonEmpty(r.CookieHash)
	r.CreatedAt, r.LastUsed, r.ExpiresAt = fromMilli(created), fromMilli(used), fromMilli(expiresAt)
	return r, nil
}

func (s *Sessions) scanAll(rows pgx.Rows, err error) ([]session.Record, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []session.Record
	for rows.Next() {
		r, err := s.scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// one maps "no row" to ErrNotFound.
func (s *Sessions) one(row pgx.Row, what string) (session.Record, error) {
	r, err := s.scan(row)
	if errors.Is(err, pgx.ErrNoRows) {
		return session.Record{}, session.ErrNotFound
	}
	if err != nil {
		return session.Record{}, fmt.Errorf("postgresql session store: %s: %w", what, err)
	}
	return r, nil
}

// Create implements session.Store.
func (s *Sessions) Create(ctx context.Context, r session.Record) error {
	if err := validRecord(&r); err != nil {
		return err
	}
	_, err := s.db.pool.Exec(ctx, `INSERT INTO sessions (`+sessCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)`,
		r.ID, r.User, r.Account, r.Service, r.Token, hashArg(r.LoginHash), r.Consumed, hashArg(r.CookieHash),
		r.Creator, r.Method, r.Origin, r.Locale, s.box.SealString(r.ReturnURL, ctxReturnURL(r.ID)),
		r.TempUser, s.box.SealString(r.TempPass, ctxTempPass(r.ID)), r.TempCreated,
		r.CreatedAt.UnixMilli(), r.LastUsed.UnixMilli(), r.ExpiresAt.UnixMilli())
	switch {
	case isUniqueViolation(err):
		return session.ErrExists
	case pgCode(err) == codeBadCharacter:
		return session.ErrInvalid
	case err != nil:
		return fmt.Errorf("postgresql session store: create: %w", err)
	}
	return nil
}

// Get implements session.Store.
func (s *Sessions) Get(ctx context.Context, id string) (session.Record, error) {
	if !storable(id) {
		return session.Record{}, session.ErrNotFound
	}
	return s.one(s.db.pool.QueryRow(ctx, `SELECT `+sessCols+` FROM sessions WHERE id = $1`, id), "get")
}

// ByLoginHash implements session.Store.
func (s *Sessions) ByLoginHash(ctx context.Context, h []byte) (session.Record, error) {
	if len(h) != hashLen {
		return session.Record{}, session.ErrNotFound
	}
	return s.one(s.db.pool.QueryRow(ctx, `SELECT `+sessCols+` FROM sessions WHERE login_hash = $1`, h), "by login hash")
}

// ByCookieHash implements session.Store.
func (s *Sessions) ByCookieHash(ctx context.Context, h []byte) (session.Record, error) {
	if len(h) != hashLen {
		return session.Record{}, session.ErrNotFound
	}
	return s.one(s.db.pool.QueryRow(ctx, `SELECT `+sessCols+` FROM sessions WHERE cookie_hash = $1`, h), "by cookie hash")
}

// state reads what decides why a conditional update matched no row.
func (s *Sessions) state(ctx context.Context, id string) (found, consumed bool, expiresAt int64, err error) {
	err = s.db.pool.QueryRow(ctx, `SELECT consumed, expires_at FROM sessions WHERE id = $1`, id).Scan(&consumed, &expiresAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, false, 0, nil
	}
	if err != nil {
		return false, false, 0, fmt.Errorf("postgresql session store: %w", err)
	}
	return true, consumed, expiresAt, nil
}

// maxRetries bounds how often Consume and Touch retry when the record
// changed between their conditional update and the look that explains why
// it matched nothing.
const maxRetries = 3

// Consume implements session.Store with one conditional UPDATE … RETURNING:
// concurrent callers on any node queue on the row lock, and every one but
// the first finds the row consumed when its turn comes.
func (s *Sessions) Consume(ctx context.Context, id string, cookieHash []byte, now, expires time.Time) (session.Record, error) {
	if !validHash(cookieHash) {
		return session.Record{}, session.ErrInvalid
	}
	if !storable(id) {
		return session.Record{}, session.ErrNotFound
	}
	nowMs := now.UnixMilli()
	for range maxRetries {
		r, err := s.scan(s.db.pool.QueryRow(ctx, `UPDATE sessions
			SET consumed = true, cookie_hash = $1, last_used = $2, expires_at = $3
			WHERE id = $4 AND NOT consumed AND expires_at > $2
			RETURNING `+sessCols, hashArg(cookieHash), nowMs, expires.UnixMilli(), id))
		switch {
		case err == nil:
			return r, nil
		case isUniqueViolation(err):
			return session.Record{}, session.ErrExists
		case !errors.Is(err, pgx.ErrNoRows):
			return session.Record{}, fmt.Errorf("postgresql session store: consume: %w", err)
		}
		found, consumed, expiresAt, err := s.state(ctx, id)
		switch {
		case err != nil:
			return session.Record{}, err
		case !found:
			return session.Record{}, session.ErrNotFound
		case consumed:
			return session.Record{}, session.ErrConsumed
		case expiresAt <= nowMs:
			return session.Record{}, session.ErrExpired
		}
		// Changed in between (deleted and created again): try again.
	}
	return session.Record{}, errors.New("postgresql session store: consume: record keeps changing")
}

// Touch implements session.Store.
func (s *Sessions) Touch(ctx context.Context, id string, now, expires time.Time) error {
	if !storable(id) {
		return session.ErrNotFound
	}
	nowMs := now.UnixMilli()
	for range maxRetries {
		tag, err := s.db.pool.Exec(ctx, `UPDATE sessions SET last_used = $1, expires_at = $2
			WHERE id = $3 AND expires_at > $1`, nowMs, expires.UnixMilli(), id)
		if err != nil {
			return fmt.Errorf("postgresql session store: touch: %w", err)
		}
		if tag.RowsAffected() == 1 {
			return nil
		}
		found, _, expiresAt, err := s.state(ctx, id)
		switch {
		case err != nil:
			return err
		case !found:
			return session.ErrNotFound
		case expiresAt <= nowMs:
			return session.ErrExpired
		}
	}
	return errors.New("postgresql session store: touch: record keeps changing")
}

// MarkTempCreated implements session.Store with one conditional UPDATE.
func (s *Sessions) MarkTempCreated(ctx context.Context, id string) (bool, error) {
	if !storable(id) {
		return false, session.ErrNotFound
	}
	tag, err := s.db.pool.Exec(ctx,
		`UPDATE sessions SET temp_created = true WHERE id = $1 AND NOT temp_created`, id)
	if err != nil {
		return false, fmt.Errorf("postgresql session store: mark temp created: %w", err)
	}
	if tag.RowsAffected() == 1 {
		return true, nil
	}
	found, _, _, err := s.state(ctx, id)
	if err != nil {
		return false, err
	}
	if !found {
		return false, session.ErrNotFound
	}
	return false, nil
}

// Delete implements session.Store.
func (s *Sessions) Delete(ctx context.Context, id string) (session.Record, error) {
	if !storable(id) {
		return session.Record{}, session.ErrNotFound
	}
	return s.one(s.db.pool.QueryRow(ctx, `DELETE FROM sessions WHERE id = $1 RETURNING `+sessCols, id), "delete")
}

// DeleteByAccount implements session.Store.
func (s *Sessions) DeleteByAccount(ctx context.Context, account, user string) ([]session.Record, error) {
	if !storable(account) || !storable(user) {
		return nil, nil
	}
	var out []session.Record
	var err error
	if user == "" {
		out, err = s.scanAll(s.db.pool.Query(ctx,
			`DELETE FROM sessions WHERE account = $1 RETURNING `+sessCols, account))
	} else {
		out, err = s.scanAll(s.db.pool.Query(ctx,
			`DELETE FROM sessions WHERE account = $1 AND user_name = $2 RETURNING `+sessCols, account, user))
	}
	if err != nil {
		return nil, fmt.Errorf("postgresql session store: delete by account: %w", err)
	}
	return out, nil
}

// List implements session.Store.
func (s *Sessions) List(ctx context.Context, account string) ([]session.Record, error) {
	if !storable(account) {
		return nil, nil
	}
	var out []session.Record
	var err error
	if account == "" {
		out, err = s.scanAll(s.db.pool.Query(ctx,
			`SELECT `+sessCols+` FROM sessions ORDER BY created_at, id`))
	} else {
		out, err = s.scanAll(s.db.pool.Query(ctx,
			`SELECT `+sessCols+` FROM sessions WHERE account = $1 ORDER BY created_at, id`, account))
	}
	if err != nil {
		return nil, fmt.Errorf("postgresql session store: list: %w", err)
	}
	return out, nil
}

// Sweep implements session.Store with one DELETE … RETURNING whose
// subquery walks the expires_at index, earliest expiry first, and skips
// rows another node's sweep (or a Delete) holds: sweepers on several nodes
// share the work and never return a record twice.
func (s *Sessions) Sweep(ctx context.Context, now time.Time, limit int) ([]session.Record, error) {
	var lim any // NULL: no limit
	if limit > 0 {
		lim = int64(limit)
	}
	out, err := s.scanAll(s.db.pool.Query(ctx, `DELETE FROM sessions WHERE id IN (
			SELECT id FROM sessions WHERE expires_at <= $1 ORDER BY expires_at LIMIT $2
			FOR UPDATE SKIP LOCKED)
		RETURNING `+sessCols, now.UnixMilli(), lim))
	if err != nil {
		return nil, fmt.Errorf("postgresql session store: sweep: %w", err)
	}
	return out, nil
}

// ---- helpers shared with the record rules of package session ----

// hashLen is the length of session.HashSecret's output.
const hashLen = 32

// validHash reports whether h may be stored as a LoginHash or CookieHash.
func validHash(h []byte) bool { return len(h) == 0 || len(h) == hashLen }

// validRecord checks what session.Store requires of a record given to
// Create (the same rules as package session's stores), plus what
// PostgreSQL text needs.
func validRecord(r *session.Record) error {
	if r.ID == "" || r.Token == "" || !validHash(r.LoginHash) || !validHash(r.CookieHash) {
		return session.ErrInvalid
	}
	for _, f := range [...]string{r.ID, r.User, r.Account, r.Service, r.Token, r.Creator,
		r.Method, r.Origin, r.Locale, r.TempUser} {
		if len(f) > session.MaxFieldLen || !storable(f) {
			return session.ErrInvalid
		}
	}
	// Sealed into bytea: any bytes will do.
	if len(r.ReturnURL) > session.MaxFieldLen || len(r.TempPass) > session.MaxFieldLen {
		return session.ErrInvalid
	}
	return nil
}

// hashArg binds a hash: NULL when empty, so that UNIQUE ignores it.
func hashArg(h []byte) any {
	if len(h) == 0 {
		return nil
	}
	return h
}

func nonEmpty(h []byte) []byte {
	if len(h) == 0 {
		return nil
	}
	return h
}

func fromMilli(ms int64) time.Time { return time.UnixMilli(ms).UTC() }
