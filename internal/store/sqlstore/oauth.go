package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/uapid/uapid/internal/store"
)

// OAuth is the store.OAuth in SQL. Its guarantees rest on single
// statements, as the sessions' do: creation is one INSERT whose primary key
// (the hash) refuses duplicates, and ConsumeOAuthCode one conditional
// UPDATE … RETURNING, so exactly one caller, in any process or node, uses
// a code. In SQLite the writes go through the sessions' group-commit
// writer. Codes and tokens hold nothing secret (hashes only), so nothing is
// sealed.
type OAuth struct {
	db *DB
}

var _ store.OAuth = (*OAuth)(nil)

// OAuth returns the OAuth codes and tokens of the store.
func (db *DB) OAuth() *OAuth { return &OAuth{db: db} }

func (o *OAuth) write(ctx context.Context, fn writeFunc) error {
	if o.db.w != nil {
		return o.db.w.do(ctx, fn)
	}
	return fn(ctx, o.db.db)
}

const oauthCodeCols = `hash, session_id, client_id, redirect_uri, challenge, used, created_at, expires_at`

const oauthTokenCols = `hash, kind, session_id, client_id, grant_hash, created_at, expires_at`

// CreateOAuthCode implements store.OAuth.
func (o *OAuth) CreateOAuthCode(ctx context.Context, c store.OAuthCode) error {
	if err := store.ValidateOAuthCode(&c); err != nil {
		return err
	}
	err := o.write(ctx, func(ctx context.Context, q querier) error {
		_, err := o.db.exec(ctx, q, `INSERT INTO oauth_codes (`+oauthCodeCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			c.Hash, c.SessionID, c.ClientID, c.RedirectURI, c.Challenge, c.Used, c.CreatedAt.UnixMilli(), c.ExpiresAt.UnixMilli())
		return err
	})
	if o.db.d.violates(err) {
		return store.Errorf(store.ErrExists, "the authorization code exists")
	}
	return o.db.fail("create authorization code", err)
}

func scanCode(sc scanner) (store.OAuthCode, error) {
	var c store.OAuthCode
	var created, expires int64
	if err := sc.Scan(&c.Hash, &c.SessionID, &c.ClientID, &c.RedirectURI, &c.Challenge, &c.Used, &created, &expires); err != nil {
		return store.OAuthCode{}, err
	}
	c.CreatedAt, c.ExpiresAt = fromMilli(created), fromMilli(expires)
	return c, nil
}

// ConsumeOAuthCode implements store.OAuth with one conditional UPDATE …
// RETURNING; when it matches nothing, a read of the row says why.
func (o *OAuth) ConsumeOAuthCode(ctx context.Context, h []byte, now time.Time) (store.OAuthCode, error) {
	if len(h) != store.SessionHashLen {
		return store.OAuthCode{}, store.Errorf(store.ErrNotFound, "no such authorization code")
	}
	nowMs := now.UnixMilli()
	var out store.OAuthCode
	err := o.write(ctx, func(ctx context.Context, q querier) error {
		c, err := scanCode(o.db.row(ctx, q, `UPDATE oauth_codes SET used = TRUE
			WHERE hash = ? AND NOT used AND expires_at > ? RETURNING `+oauthCodeCols, h, nowMs))
		if err == nil {
			out = c
			return nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return o.db.fail("consume authorization code", err)
		}
		var used bool
		var expires int64
		err = o.db.row(ctx, q, `SELECT used, expires_at FROM oauth_codes WHERE hash = ?`, h).Scan(&used, &expires)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return store.Errorf(store.ErrNotFound, "no such authorization code")
		case err != nil:
			return o.db.fail("consume authorization code", err)
		case used:
			return store.Errorf(store.ErrConsumed, "the authorization code was used already")
		case expires <= nowMs:
			return store.Errorf(store.ErrExpired, "the authorization code has expired")
		}
		// Used and expired by nobody: the row changed between the two
		// statements (PostgreSQL only; SQLite's writer serialises).
		return store.Errorf(store.ErrConsumed, "the authorization code was used already")
	})
	return out, err
}

// CreateOAuthToken implements store.OAuth.
func (o *OAuth) CreateOAuthToken(ctx context.Context, t store.OAuthToken) error {
	if err := store.ValidateOAuthToken(&t); err != nil {
		return err
	}
	err := o.write(ctx, func(ctx context.Context, q querier) error {
		_, err := o.db.exec(ctx, q, `INSERT INTO oauth_tokens (`+oauthTokenCols+`) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			t.Hash, t.Kind, t.SessionID, t.ClientID, t.Grant, t.CreatedAt.UnixMilli(), t.ExpiresAt.UnixMilli())
		return err
	})
	if o.db.d.violates(err) {
		return store.Errorf(store.ErrExists, "the token exists")
	}
	return o.db.fail("create token", err)
}

// OAuthTokenByHash implements store.OAuth.
func (o *OAuth) OAuthTokenByHash(ctx context.Context, h []byte) (store.OAuthToken, error) {
	if len(h) != store.SessionHashLen {
		return store.OAuthToken{}, store.Errorf(store.ErrNotFound, "no such token")
	}
	var t store.OAuthToken
	var created, expires int64
	err := o.db.row(ctx, o.db.db, `SELECT `+oauthTokenCols+` FROM oauth_tokens WHERE hash = ?`, h).
		Scan(&t.Hash, &t.Kind, &t.SessionID, &t.ClientID, &t.Grant, &created, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return store.OAuthToken{}, store.Errorf(store.ErrNotFound, "no such token")
	}
	if err != nil {
		return store.OAuthToken{}, o.db.fail("token by hash", err)
	}
	t.CreatedAt, t.ExpiresAt = fromMilli(created), fromMilli(expires)
	return t, nil
}

// deleted runs one DELETE and returns how many rows it removed.
func (o *OAuth) deleted(ctx context.Context, q querier, query string, args ...any) (int, error) {
	res, err := o.db.exec(ctx, q, query, args...)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// deleteIDsPerStatement bounds the session ids bound in one statement of
// DeleteOAuthTokens (SQLite allows 32,766 parameters, PostgreSQL 65,535).
const deleteIDsPerStatement = 500

// DeleteOAuthTokens implements store.OAuth: one write, whose statements
// each name up to deleteIDsPerStatement sessions as bound parameters.
func (o *OAuth) DeleteOAuthTokens(ctx context.Context, sessionIDs ...string) (int, error) {
	ids := make([]any, 0, len(sessionIDs))
	for _, id := range sessionIDs {
		if store.Text(id) {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return 0, nil
	}
	var n int
	err := o.write(ctx, func(ctx context.Context, q querier) error {
		n = 0
		for part := range slices.Chunk(ids, deleteIDsPerStatement) {
			in := "(" + strings.Repeat("?, ", len(part)-1) + "?)"
			d, err := o.deleted(ctx, q, `DELETE FROM oauth_tokens WHERE session_id IN `+in, part...)
			if err != nil {
				return err
			}
			n += d
			if _, err := o.deleted(ctx, q, `DELETE FROM oauth_codes WHERE session_id IN `+in, part...); err != nil {
				return err
			}
		}
		return nil
	})
	return n, o.db.fail("delete the tokens of sessions", err)
}

// DeleteOAuthGrant implements store.OAuth.
func (o *OAuth) DeleteOAuthGrant(ctx context.Context, grant []byte) (int, error) {
	if len(grant) != store.SessionHashLen {
		return 0, nil
	}
	var n int
	err := o.write(ctx, func(ctx context.Context, q querier) error {
		var err error
		n, err = o.deleted(ctx, q, `DELETE FROM oauth_tokens WHERE grant_hash = ?`, grant)
		return err
	})
	return n, o.db.fail("delete the tokens of a grant", err)
}

// SweepOAuth implements store.OAuth: codes first, then tokens, each one
// DELETE whose subquery walks the expires_at index.
func (o *OAuth) SweepOAuth(ctx context.Context, now time.Time, limit int) (int, error) {
	total := 0
	for _, table := range []string{"oauth_codes", "oauth_tokens"} {
		lim := int64(math.MaxInt64) // no limit (SQLite refuses LIMIT NULL)
		if limit > 0 {
			if total >= limit {
				break
			}
			lim = int64(limit - total)
		}
		var n int
		err := o.write(ctx, func(ctx context.Context, q querier) error {
			var err error
			n, err = o.deleted(ctx, q, `DELETE FROM `+table+` WHERE hash IN (
				SELECT hash FROM `+table+` WHERE expires_at <= ? ORDER BY expires_at LIMIT ?`+o.db.d.skipLocked+`)`,
				now.UnixMilli(), lim)
			return err
		})
		if err != nil {
			return total, o.db.fail("sweep "+table, err)
		}
		total += n
	}
	return total, nil
}
