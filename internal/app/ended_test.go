package app_test

import (
	"crypto/rand"
	"errors"
	"testing"
	"time"

	"github.com/uapid/uapid/internal/session"
	"github.com/uapid/uapid/internal/store"
	"github.com/uapid/uapid/internal/uapi"
)

// TestEndedSessionsLoseTheirOAuthTokens: whatever ends Webmail sessions (a
// logout, or the expiry sweep that ends them by the hundred) removes their
// OAuth codes and tokens from the store; other sessions' tokens stay.
func TestEndedSessionsLoseTheirOAuthTokens(t *testing.T) {
	a, err := open(t, load(t, nil))
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	now := time.Now()
	a.Sessions.Now = func() time.Time { return now }
	newToken := func(sessionID string) store.OAuthToken {
		tk := store.OAuthToken{Hash: make([]byte, store.SessionHashLen), Grant: make([]byte, store.SessionHashLen),
			Kind: store.OAuthAccess, SessionID: sessionID, ClientID: "roundcube",
			CreatedAt: now.Truncate(time.Millisecond), ExpiresAt: now.Add(48 * time.Hour).Truncate(time.Millisecond)}
		rand.Read(tk.Hash)
		rand.Read(tk.Grant)
		if err := a.OAuth.Store.CreateOAuthToken(ctx, tk); err != nil {
			t.Fatal(err)
		}
		return tk
	}
	create := func(service string) (store.Session, store.OAuthToken) {
		r, _, err := a.Sessions.Create(ctx, session.NewSession{User: "info@alice.test", Account: "alice", Service: service, Tag: "CREATE_WEBMAIL_SESSION_FOR_MAIL_USER"})
		if err != nil {
			t.Fatal(err)
		}
		return r, newToken(r.ID)
	}
	gone := func(what string, tk store.OAuthToken) {
		t.Helper()
		if _, err := a.OAuth.Store.OAuthTokenByHash(ctx, tk.Hash); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s: the token is still there (%v)", what, err)
		}
	}

	out, outTk := create(uapi.ServiceWebmail)
	_, keepTk := create(uapi.ServiceWebmail)
	if err := a.Sessions.End(ctx, out.ID, "logout"); err != nil {
		t.Fatal(err)
	}
	gone("after a logout", outTk)

	// 1,500 expired sessions are swept in batches; each batch's tokens go
	// in one step.
	var swept []store.OAuthToken
	for range 1500 {
		_, tk := create(uapi.ServiceWebmail)
		swept = append(swept, tk)
	}
	now = now.Add(time.Hour) // past every login limit
	later, laterTk := create(uapi.ServiceWebmail)
	n, err := a.Sessions.Sweep(ctx, 1000)
	if err != nil || n != 1501 { // keepTk's session expired too
		t.Fatalf("Sweep: %d, %v; want 1501", n, err)
	}
	for _, tk := range swept {
		gone("after the sweep", tk)
	}
	gone("after the sweep", keepTk)
	if _, err := a.OAuth.Store.OAuthTokenByHash(ctx, laterTk.Hash); err != nil {
		t.Errorf("the token of the live session %s is gone: %v", later.ID, err)
	}
}
