package storetest

import (
	"bytes"
	"context"
	"encoding/hex"
	"slices"
	"time"

	"github.com/uapid/uapid/internal/store"
)

// The in-memory OAuth store of the test fake (memory_test.go): codes and
// tokens by the hex of their hash, under the one lock.

type memOAuth struct {
	codes  map[string]store.OAuthCode
	tokens map[string]store.OAuthToken
}

func (h *memHandle) oauthState(ctx context.Context) (*memState, *memOAuth, error) {
	s, err := h.lock(ctx)
	if err != nil {
		return nil, nil, err
	}
	if s.oauth == nil {
		s.oauth = &memOAuth{codes: map[string]store.OAuthCode{}, tokens: map[string]store.OAuthToken{}}
	}
	return s, s.oauth, nil
}

func cloneCode(c store.OAuthCode) store.OAuthCode {
	c.Hash = bytes.Clone(c.Hash)
	c.CreatedAt, c.ExpiresAt = msTime(c.CreatedAt), msTime(c.ExpiresAt)
	return c
}

func cloneOAuthToken(t store.OAuthToken) store.OAuthToken {
	t.Hash, t.Grant = bytes.Clone(t.Hash), bytes.Clone(t.Grant)
	t.CreatedAt, t.ExpiresAt = msTime(t.CreatedAt), msTime(t.ExpiresAt)
	return t
}

func (h *memHandle) CreateOAuthCode(ctx context.Context, c store.OAuthCode) error {
	if err := store.ValidateOAuthCode(&c); err != nil {
		return err
	}
	s, o, err := h.oauthState(ctx)
	if err != nil {
		return err
	}
	defer s.mu.Unlock()
	k := hex.EncodeToString(c.Hash)
	if _, ok := o.codes[k]; ok {
		return store.Errorf(store.ErrExists, "the code exists")
	}
	o.codes[k] = cloneCode(c)
	return nil
}

func (h *memHandle) ConsumeOAuthCode(ctx context.Context, hash []byte, now time.Time) (store.OAuthCode, error) {
	s, o, err := h.oauthState(ctx)
	if err != nil {
		return store.OAuthCode{}, err
	}
	defer s.mu.Unlock()
	k := hex.EncodeToString(hash)
	c, ok := o.codes[k]
	switch {
	case !ok:
		return store.OAuthCode{}, store.Errorf(store.ErrNotFound, "no such code")
	case c.Used:
		return store.OAuthCode{}, store.Errorf(store.ErrConsumed, "the code was used")
	case c.Expired(msTime(now)):
		return store.OAuthCode{}, store.Errorf(store.ErrExpired, "the code expired")
	}
	c.Used = true
	o.codes[k] = c
	return cloneCode(c), nil
}

func (h *memHandle) CreateOAuthToken(ctx context.Context, t store.OAuthToken) error {
	if err := store.ValidateOAuthToken(&t); err != nil {
		return err
	}
	s, o, err := h.oauthState(ctx)
	if err != nil {
		return err
	}
	defer s.mu.Unlock()
	k := hex.EncodeToString(t.Hash)
	if _, ok := o.tokens[k]; ok {
		return store.Errorf(store.ErrExists, "the token exists")
	}
	o.tokens[k] = cloneOAuthToken(t)
	return nil
}

func (h *memHandle) OAuthTokenByHash(ctx context.Context, hash []byte) (store.OAuthToken, error) {
	s, o, err := h.oauthState(ctx)
	if err != nil {
		return store.OAuthToken{}, err
	}
	defer s.mu.Unlock()
	t, ok := o.tokens[hex.EncodeToString(hash)]
	if !ok {
		return store.OAuthToken{}, store.Errorf(store.ErrNotFound, "no such token")
	}
	return cloneOAuthToken(t), nil
}

func (h *memHandle) DeleteOAuthTokens(ctx context.Context, sessionIDs ...string) (int, error) {
	s, o, err := h.oauthState(ctx)
	if err != nil {
		return 0, err
	}
	defer s.mu.Unlock()
	n := 0
	for k, t := range o.tokens {
		if slices.Contains(sessionIDs, t.SessionID) {
			delete(o.tokens, k)
			n++
		}
	}
	for k, c := range o.codes {
		if slices.Contains(sessionIDs, c.SessionID) {
			delete(o.codes, k)
		}
	}
	return n, nil
}

func (h *memHandle) DeleteOAuthGrant(ctx context.Context, grant []byte) (int, error) {
	s, o, err := h.oauthState(ctx)
	if err != nil {
		return 0, err
	}
	defer s.mu.Unlock()
	n := 0
	for k, t := range o.tokens {
		if bytes.Equal(t.Grant, grant) {
			delete(o.tokens, k)
			n++
		}
	}
	return n, nil
}

func (h *memHandle) SweepOAuth(ctx context.Context, now time.Time, limit int) (int, error) {
	s, o, err := h.oauthState(ctx)
	if err != nil {
		return 0, err
	}
	defer s.mu.Unlock()
	now = msTime(now)
	n := 0
	for k, c := range o.codes {
		if limit > 0 && n >= limit {
			return n, nil
		}
		if c.Expired(now) {
			delete(o.codes, k)
			n++
		}
	}
	for k, t := range o.tokens {
		if limit > 0 && n >= limit {
			return n, nil
		}
		if t.Expired(now) {
			delete(o.tokens, k)
			n++
		}
	}
	return n, nil
}
