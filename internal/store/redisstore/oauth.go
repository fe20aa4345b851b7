package redisstore

import (
	"context"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/uapid/uapid/internal/store"
)

// OAuth is the store.OAuth view of a Store (Store.OAuth): the codes and
// tokens live next to the sessions they hang off. Every step that checks
// and changes is one Lua script (scripts_oauth.go), so a code is consumed
// by exactly one caller on any node.
type OAuth struct{ s *Store }

var _ store.OAuth = (*OAuth)(nil)

// OAuth returns the OAuth codes' and tokens' view of the store.
func (s *Store) OAuth() *OAuth { return &OAuth{s: s} }

// run runs an OAuth script with the common arguments (prefix, grace)
// first, within the store's per-round-trip bound.
func (o *OAuth) run(ctx context.Context, sc *redis.Script, args ...any) (any, error) {
	s := o.s
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return sc.Run(ctx, s.rdb, nil, append([]any{s.prefix, s.grace}, args...)...).Result()
}

// CreateOAuthCode implements store.OAuth.
func (o *OAuth) CreateOAuthCode(ctx context.Context, c store.OAuthCode) error {
	if err := store.ValidateOAuthCode(&c); err != nil {
		return err
	}
	ea := c.ExpiresAt.UnixMilli()
	v, err := o.run(ctx, scriptCreateCode, hex.EncodeToString(c.Hash), c.SessionID, ea,
		"s", c.SessionID, "cl", c.ClientID, "ru", c.RedirectURI, "ch", c.Challenge, "u", b2s(c.Used),
		"ca", c.CreatedAt.UnixMilli(), "ea", ea)
	if err != nil {
		return o.s.fail(ctx, "create authorization code", err)
	}
	switch v {
	case "ok":
		return nil
	case "exists":
		return store.Errorf(store.ErrExists, "the authorization code exists")
	}
	return fmt.Errorf("%s: create authorization code: unexpected reply %v", what, v)
}

// fields turns a flat field list of a script's reply into a map.
func fields(v any) (map[string]string, error) {
	flat, ok := v.([]any)
	if !ok || len(flat)%2 != 0 {
		return nil, fmt.Errorf("%s: unexpected reply %T", what, v)
	}
	f := make(map[string]string, len(flat)/2)
	for i := 0; i < len(flat); i += 2 {
		k, _ := flat[i].(string)
		val, _ := flat[i+1].(string)
		f[k] = val
	}
	return f, nil
}

// millis parses the times of a record.
func millis(f map[string]string, keys ...string) ([]time.Time, error) {
	out := make([]time.Time, len(keys))
	for i, k := range keys {
		ms, err := strconv.ParseInt(f[k], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%s: field %s: %w", what, k, err)
		}
		out[i] = time.UnixMilli(ms).UTC()
	}
	return out, nil
}

// ConsumeOAuthCode implements store.OAuth with one script.
func (o *OAuth) ConsumeOAuthCode(ctx context.Context, h []byte, now time.Time) (store.OAuthCode, error) {
	if len(h) != store.SessionHashLen {
		return store.OAuthCode{}, store.Errorf(store.ErrNotFound, "no such authorization code")
	}
	res, err := o.run(ctx, scriptConsumeCode, hex.EncodeToString(h), now.UnixMilli())
	if err != nil {
		return store.OAuthCode{}, o.s.fail(ctx, "consume authorization code", err)
	}
	v, _ := res.([]any)
	if len(v) == 0 {
		return store.OAuthCode{}, fmt.Errorf("%s: consume authorization code: unexpected reply %v", what, res)
	}
	switch status, _ := v[0].(string); status {
	case "ok":
		if len(v) != 2 {
			break
		}
		f, err := fields(v[1])
		if err != nil {
			return store.OAuthCode{}, err
		}
		ts, err := millis(f, "ca", "ea")
		if err != nil {
			return store.OAuthCode{}, err
		}
		return store.OAuthCode{Hash: append([]byte(nil), h...), SessionID: f["s"], ClientID: f["cl"],
			RedirectURI: f["ru"], Challenge: f["ch"], Used: f["u"] == "1", CreatedAt: ts[0], ExpiresAt: ts[1]}, nil
	case "notfound":
		return store.OAuthCode{}, store.Errorf(store.ErrNotFound, "no such authorization code")
	case "consumed":
		return store.OAuthCode{}, store.Errorf(store.ErrConsumed, "the authorization code was used already")
	case "expired":
		return store.OAuthCode{}, store.Errorf(store.ErrExpired, "the authorization code has expired")
	}
	return store.OAuthCode{}, fmt.Errorf("%s: consume authorization code: unexpected reply %v", what, res)
}

// CreateOAuthToken implements store.OAuth.
func (o *OAuth) CreateOAuthToken(ctx context.Context, t store.OAuthToken) error {
	if err := store.ValidateOAuthToken(&t); err != nil {
		return err
	}
	ea := t.ExpiresAt.UnixMilli()
	g := hex.EncodeToString(t.Grant)
	v, err := o.run(ctx, scriptCreateToken, hex.EncodeToString(t.Hash), t.SessionID, g, ea,
		"k", t.Kind, "s", t.SessionID, "cl", t.ClientID, "g", g, "ca", t.CreatedAt.UnixMilli(), "ea", ea)
	if err != nil {
		return o.s.fail(ctx, "create token", err)
	}
	switch v {
	case "ok":
		return nil
	case "exists":
		return store.Errorf(store.ErrExists, "the token exists")
	}
	return fmt.Errorf("%s: create token: unexpected reply %v", what, v)
}

// OAuthTokenByHash implements store.OAuth (one HGETALL).
func (o *OAuth) OAuthTokenByHash(ctx context.Context, h []byte) (store.OAuthToken, error) {
	if len(h) != store.SessionHashLen {
		return store.OAuthToken{}, store.Errorf(store.ErrNotFound, "no such token")
	}
	s := o.s
	bctx, cancel := s.bound(ctx)
	defer cancel()
	f, err := s.rdb.HGetAll(bctx, s.prefix+"o:t:"+hex.EncodeToString(h)).Result()
	if err != nil {
		return store.OAuthToken{}, s.fail(ctx, "token by hash", err)
	}
	if len(f) == 0 {
		return store.OAuthToken{}, store.Errorf(store.ErrNotFound, "no such token")
	}
	ts, err := millis(f, "ca", "ea")
	if err != nil {
		return store.OAuthToken{}, err
	}
	grant, err := hex.DecodeString(f["g"])
	if err != nil {
		return store.OAuthToken{}, fmt.Errorf("%s: token: grant: %w", what, err)
	}
	return store.OAuthToken{Hash: append([]byte(nil), h...), Kind: f["k"], SessionID: f["s"], ClientID: f["cl"],
		Grant: grant, CreatedAt: ts[0], ExpiresAt: ts[1]}, nil
}

// count runs a script that answers a number.
func (o *OAuth) count(ctx context.Context, op string, sc *redis.Script, args ...any) (int, error) {
	v, err := o.run(ctx, sc, args...)
	if err != nil {
		return 0, o.s.fail(ctx, op, err)
	}
	n, ok := v.(int64)
	if !ok {
		return 0, fmt.Errorf("%s: %s: unexpected reply %v", what, op, v)
	}
	return int(n), nil
}

// DeleteOAuthTokens implements store.OAuth with one script per
// deleteIDsPerScript sessions.
func (o *OAuth) DeleteOAuthTokens(ctx context.Context, sessionIDs ...string) (int, error) {
	n := 0
	for part := range slices.Chunk(sessionIDs, deleteIDsPerScript) {
		args := make([]any, len(part))
		for i, id := range part {
			args[i] = id
		}
		d, err := o.count(ctx, "delete the tokens of sessions", scriptDeleteSessionOAuth, args...)
		n += d
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// deleteIDsPerScript bounds the sessions one run of
// scriptDeleteSessionOAuth handles, so that one script does not hold
// Redis for long.
const deleteIDsPerScript = 200

// DeleteOAuthGrant implements store.OAuth with one script.
func (o *OAuth) DeleteOAuthGrant(ctx context.Context, grant []byte) (int, error) {
	if len(grant) != store.SessionHashLen {
		return 0, nil
	}
	return o.count(ctx, "delete the tokens of a grant", scriptDeleteGrant, hex.EncodeToString(grant))
}

// SweepOAuth implements store.OAuth: each batch is one script that takes
// the earliest-expiring members of the expiry index.
func (o *OAuth) SweepOAuth(ctx context.Context, now time.Time, limit int) (int, error) {
	total := 0
	for limit <= 0 || total < limit {
		n := sweepBatch
		if limit > 0 {
			n = min(n, limit-total)
		}
		res, err := o.run(ctx, scriptSweepOAuth, now.UnixMilli(), n)
		if err != nil {
			return total, o.s.fail(ctx, "sweep oauth", err)
		}
		v, _ := res.([]any)
		if len(v) != 2 {
			return total, fmt.Errorf("%s: sweep oauth: unexpected reply %v", what, res)
		}
		looked, _ := v[0].(int64)
		removed, _ := v[1].(int64)
		total += int(removed)
		if looked < int64(n) {
			break
		}
	}
	return total, nil
}
