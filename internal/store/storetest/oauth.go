package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/uapid/uapid/internal/store"
)

func (s suite) oauthTests() []namedTest {
	tests := []struct {
		name string
		fn   func(t *testing.T, o store.OAuth)
	}{
		{"CodeRoundTrip", testCodeRoundTrip},
		{"CodeDuplicate", testCodeDuplicate},
		{"CodeInvalid", testCodeInvalid},
		{"ConsumeCodeTwice", testConsumeCodeTwice},
		{"ConsumeCodeExpired", testConsumeCodeExpired},
		{"ConsumeCodeUsedAndExpired", testConsumeCodeUsedAndExpired},
		{"ConsumeCodeUnknown", testConsumeCodeUnknown},
		{"ConsumeCodeConcurrent", testConsumeCodeConcurrent},
		{"TokenRoundTrip", testTokenRoundTrip},
		{"TokenDuplicate", testTokenDuplicate},
		{"TokenInvalid", testTokenInvalid},
		{"TokenUnknown", testTokenUnknown},
		{"DeleteOAuthTokens", testDeleteOAuthTokens},
		{"DeleteOAuthTokensOfMany", testDeleteOAuthTokensOfMany},
		{"DeleteOAuthGrant", testDeleteOAuthGrant},
		{"SweepOAuth", testSweepOAuth},
		{"OAuthRecordsAreCopies", testOAuthCopies},
	}
	out := make([]namedTest, len(tests))
	for i, tc := range tests {
		out[i] = namedTest{tc.name, func(t *testing.T) { tc.fn(t, s.oauth(t)) }}
	}
	return out
}

func (s suite) sharedOAuthTests() []namedTest {
	return []namedTest{
		{"CreateHereUseThere", s.testOAuthCreateHereUseThere},
		{"ConsumeCodeConcurrentAcross", s.testConsumeCodeConcurrentAcross},
		{"CreateCodeConcurrentAcross", s.testCreateCodeConcurrentAcross},
	}
}

func (s suite) oauth(t testing.TB) store.OAuth {
	t.Helper()
	x := s.b.New(t).OAuth
	if x == nil {
		t.Fatal("Backend.New returned no OAuth this time")
	}
	return x
}

func (s suite) oauthPair(t testing.TB) (a, b store.OAuth) {
	t.Helper()
	ha, hb := s.pair(t)
	if ha.OAuth == nil || hb.OAuth == nil {
		t.Fatal("Backend.Pair returned no OAuth this time")
	}
	return ha.OAuth, hb.OAuth
}

// NewOAuthCode returns a fresh, valid authorization code of session
// sessionID, created just before t0 and expiring 60 s later, with
// sub-millisecond digits in its times.
func NewOAuthCode(sessionID string) store.OAuthCode {
	return store.OAuthCode{
		Hash:        newSecretHash(),
		SessionID:   sessionID,
		ClientID:    "roundcube",
		RedirectURI: "https://mail.example/index.php/login/oauth?x=\u00e9",
		Challenge:   randText(alnumUnder, 43),
		CreatedAt:   t0.Add(-time.Second),
		ExpiresAt:   t0.Add(59 * time.Second),
	}
}

// NewOAuthToken returns a fresh, valid token of kind for session
// sessionID, descending from grant, expiring 15 minutes after t0.
func NewOAuthToken(kind, sessionID string, grant []byte) store.OAuthToken {
	return store.OAuthToken{
		Hash:      newSecretHash(),
		Kind:      kind,
		SessionID: sessionID,
		ClientID:  "roundcube",
		Grant:     bytes.Clone(grant),
		CreatedAt: t0.Add(-time.Second),
		ExpiresAt: t0.Add(15 * time.Minute),
	}
}

func checkCode(t *testing.T, want, got store.OAuthCode) {
	t.Helper()
	var diffs []string
	if !bytes.Equal(want.Hash, got.Hash) {
		diffs = append(diffs, "Hash differs")
	}
	for _, f := range []struct{ name, w, g string }{{"SessionID", want.SessionID, got.SessionID},
		{"ClientID", want.ClientID, got.ClientID}, {"RedirectURI", want.RedirectURI, got.RedirectURI},
		{"Challenge", want.Challenge, got.Challenge}} {
		if f.w != f.g {
			diffs = append(diffs, fmt.Sprintf("%s = %q, want %q", f.name, f.g, f.w))
		}
	}
	if want.Used != got.Used {
		diffs = append(diffs, fmt.Sprintf("Used = %v, want %v", got.Used, want.Used))
	}
	diffs = append(diffs, timeDiffs(want.CreatedAt, got.CreatedAt, want.ExpiresAt, got.ExpiresAt)...)
	if len(diffs) > 0 {
		t.Errorf("authorization code differs:\n  %s", joinLines(diffs))
	}
}

func checkToken(t *testing.T, want, got store.OAuthToken) {
	t.Helper()
	var diffs []string
	if !bytes.Equal(want.Hash, got.Hash) {
		diffs = append(diffs, "Hash differs")
	}
	if !bytes.Equal(want.Grant, got.Grant) {
		diffs = append(diffs, "Grant differs")
	}
	for _, f := range []struct{ name, w, g string }{{"Kind", want.Kind, got.Kind},
		{"SessionID", want.SessionID, got.SessionID}, {"ClientID", want.ClientID, got.ClientID}} {
		if f.w != f.g {
			diffs = append(diffs, fmt.Sprintf("%s = %q, want %q", f.name, f.g, f.w))
		}
	}
	diffs = append(diffs, timeDiffs(want.CreatedAt, got.CreatedAt, want.ExpiresAt, got.ExpiresAt)...)
	if len(diffs) > 0 {
		t.Errorf("token differs:\n  %s", joinLines(diffs))
	}
}

// timeDiffs compares creation and expiry times at millisecond precision,
// and checks that the returned ones are in UTC.
func timeDiffs(wc, gc, we, ge time.Time) []string {
	var out []string
	for _, f := range []struct {
		name string
		w, g time.Time
	}{{"CreatedAt", wc, gc}, {"ExpiresAt", we, ge}} {
		if !f.g.Equal(ms(f.w)) || f.g.Location() != time.UTC {
			out = append(out, fmt.Sprintf("%s = %v, want %v (UTC, milliseconds)", f.name, f.g, ms(f.w)))
		}
	}
	return out
}

func joinLines(s []string) string {
	var b bytes.Buffer
	for i, l := range s {
		if i > 0 {
			b.WriteString("\n  ")
		}
		b.WriteString(l)
	}
	return b.String()
}

func mustCreateCode(t *testing.T, o store.OAuth, c store.OAuthCode) {
	t.Helper()
	if err := o.CreateOAuthCode(t.Context(), c); err != nil {
		t.Fatalf("CreateOAuthCode: %v", err)
	}
}

func mustCreateToken(t *testing.T, o store.OAuth, tk store.OAuthToken) {
	t.Helper()
	if err := o.CreateOAuthToken(t.Context(), tk); err != nil {
		t.Fatalf("CreateOAuthToken: %v", err)
	}
}

func testCodeRoundTrip(t *testing.T, o store.OAuth) {
	c := NewOAuthCode(newID())
	mustCreateCode(t, o, c)
	got, err := o.ConsumeOAuthCode(t.Context(), c.Hash, t0)
	if err != nil {
		t.Fatalf("ConsumeOAuthCode: %v", err)
	}
	c.Used = true
	checkCode(t, c, got)
	// A code without redirect URI and challenge.
	c2 := NewOAuthCode(newID())
	c2.RedirectURI, c2.Challenge = "", ""
	mustCreateCode(t, o, c2)
	got, err = o.ConsumeOAuthCode(t.Context(), c2.Hash, t0)
	if err != nil {
		t.Fatalf("ConsumeOAuthCode (bare code): %v", err)
	}
	c2.Used = true
	checkCode(t, c2, got)
}

func testCodeDuplicate(t *testing.T, o store.OAuth) {
	c := NewOAuthCode(newID())
	mustCreateCode(t, o, c)
	d := NewOAuthCode(newID())
	d.Hash = bytes.Clone(c.Hash)
	wantErr(t, "CreateOAuthCode with a taken hash", o.CreateOAuthCode(t.Context(), d), store.ErrExists)
	// The first one is unchanged.
	got, err := o.ConsumeOAuthCode(t.Context(), c.Hash, t0)
	if err != nil {
		t.Fatalf("ConsumeOAuthCode: %v", err)
	}
	c.Used = true
	checkCode(t, c, got)
}

func testCodeInvalid(t *testing.T, o store.OAuth) {
	for name, mut := range map[string]func(c *store.OAuthCode){
		"short hash":      func(c *store.OAuthCode) { c.Hash = c.Hash[:16] },
		"no hash":         func(c *store.OAuthCode) { c.Hash = nil },
		"no session":      func(c *store.OAuthCode) { c.SessionID = "" },
		"no client":       func(c *store.OAuthCode) { c.ClientID = "" },
		"NUL in URI":      func(c *store.OAuthCode) { c.RedirectURI = "https://x/\x00" },
		"bad UTF-8":       func(c *store.OAuthCode) { c.ClientID = "\xff" },
		"huge URI":        func(c *store.OAuthCode) { c.RedirectURI = "https://x/" + randText(alnumLower, store.MaxOAuthFieldLen) },
		"expires at once": func(c *store.OAuthCode) { c.ExpiresAt = c.CreatedAt },
	} {
		c := NewOAuthCode(newID())
		mut(&c)
		wantErr(t, "CreateOAuthCode with "+name, o.CreateOAuthCode(t.Context(), c), store.ErrInvalid)
	}
}

func testConsumeCodeTwice(t *testing.T, o store.OAuth) {
	c := NewOAuthCode(newID())
	mustCreateCode(t, o, c)
	if _, err := o.ConsumeOAuthCode(t.Context(), c.Hash, t0); err != nil {
		t.Fatal(err)
	}
	_, err := o.ConsumeOAuthCode(t.Context(), c.Hash, t0.Add(time.Second))
	wantErr(t, "second ConsumeOAuthCode", err, store.ErrConsumed)
}

func testConsumeCodeExpired(t *testing.T, o store.OAuth) {
	c := NewOAuthCode(newID())
	mustCreateCode(t, o, c)
	// Expiry is exclusive: at ExpiresAt (to the millisecond) it is over.
	_, err := o.ConsumeOAuthCode(t.Context(), c.Hash, ms(c.ExpiresAt))
	wantErr(t, "ConsumeOAuthCode at its expiry", err, store.ErrExpired)
	_, err = o.ConsumeOAuthCode(t.Context(), c.Hash, c.ExpiresAt.Add(time.Hour))
	wantErr(t, "ConsumeOAuthCode after its expiry", err, store.ErrExpired)
	// A millisecond before, it still works: nothing was changed.
	if _, err := o.ConsumeOAuthCode(t.Context(), c.Hash, ms(c.ExpiresAt).Add(-time.Millisecond)); err != nil {
		t.Fatalf("ConsumeOAuthCode just before expiry: %v", err)
	}
}

func testConsumeCodeUsedAndExpired(t *testing.T, o store.OAuth) {
	c := NewOAuthCode(newID())
	mustCreateCode(t, o, c)
	if _, err := o.ConsumeOAuthCode(t.Context(), c.Hash, t0); err != nil {
		t.Fatal(err)
	}
	_, err := o.ConsumeOAuthCode(t.Context(), c.Hash, c.ExpiresAt.Add(time.Second))
	wantErr(t, "ConsumeOAuthCode of a used and expired code", err, store.ErrConsumed)
}

func testConsumeCodeUnknown(t *testing.T, o store.OAuth) {
	_, err := o.ConsumeOAuthCode(t.Context(), newSecretHash(), t0)
	wantErr(t, "ConsumeOAuthCode of an unknown code", err, store.ErrNotFound)
	_, err = o.ConsumeOAuthCode(t.Context(), []byte("short"), t0)
	wantErr(t, "ConsumeOAuthCode of a malformed hash", err, store.ErrNotFound)
	_, err = o.ConsumeOAuthCode(t.Context(), nil, t0)
	wantErr(t, "ConsumeOAuthCode of no hash", err, store.ErrNotFound)
}

// raceConsumeCode consumes one code from Racers goroutines spread over the
// handles and returns how many succeeded and how many got ErrConsumed.
func raceConsumeCode(t *testing.T, handles []store.OAuth, h []byte) (wins, consumed int) {
	t.Helper()
	start := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	for i := range Racers {
		o := handles[i%len(handles)]
		wg.Go(func() {
			<-start
			_, err := o.ConsumeOAuthCode(t.Context(), h, t0)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				wins++
			case errors.Is(err, store.ErrConsumed):
				consumed++
			default:
				t.Errorf("ConsumeOAuthCode: %v", err)
			}
		})
	}
	close(start)
	wg.Wait()
	return wins, consumed
}

func testConsumeCodeConcurrent(t *testing.T, o store.OAuth) {
	c := NewOAuthCode(newID())
	mustCreateCode(t, o, c)
	if wins, consumed := raceConsumeCode(t, []store.OAuth{o}, c.Hash); wins != 1 || consumed != Racers-1 {
		t.Fatalf("%d successes and %d ErrConsumed, want 1 and %d", wins, consumed, Racers-1)
	}
}

func testTokenRoundTrip(t *testing.T, o store.OAuth) {
	sid, grant := newID(), newSecretHash()
	for _, kind := range []string{store.OAuthAccess, store.OAuthRefresh} {
		tk := NewOAuthToken(kind, sid, grant)
		mustCreateToken(t, o, tk)
		got, err := o.OAuthTokenByHash(t.Context(), tk.Hash)
		if err != nil {
			t.Fatalf("OAuthTokenByHash (%s): %v", kind, err)
		}
		checkToken(t, tk, got)
	}
	// Expired tokens are returned too (the caller tells "expired").
	tk := NewOAuthToken(store.OAuthAccess, sid, grant)
	tk.CreatedAt, tk.ExpiresAt = t0.Add(-2*time.Hour), t0.Add(-time.Hour)
	mustCreateToken(t, o, tk)
	got, err := o.OAuthTokenByHash(t.Context(), tk.Hash)
	if err != nil {
		t.Fatalf("OAuthTokenByHash (expired): %v", err)
	}
	checkToken(t, tk, got)
	if !got.Expired(t0) {
		t.Error("the returned token is not expired at t0")
	}
}

func testTokenDuplicate(t *testing.T, o store.OAuth) {
	tk := NewOAuthToken(store.OAuthAccess, newID(), newSecretHash())
	mustCreateToken(t, o, tk)
	d := NewOAuthToken(store.OAuthRefresh, newID(), newSecretHash())
	d.Hash = bytes.Clone(tk.Hash)
	wantErr(t, "CreateOAuthToken with a taken hash", o.CreateOAuthToken(t.Context(), d), store.ErrExists)
	got, err := o.OAuthTokenByHash(t.Context(), tk.Hash)
	if err != nil {
		t.Fatal(err)
	}
	checkToken(t, tk, got)
}

func testTokenInvalid(t *testing.T, o store.OAuth) {
	for name, mut := range map[string]func(tk *store.OAuthToken){
		"short hash":      func(tk *store.OAuthToken) { tk.Hash = tk.Hash[:31] },
		"no grant":        func(tk *store.OAuthToken) { tk.Grant = nil },
		"unknown kind":    func(tk *store.OAuthToken) { tk.Kind = "id" },
		"no session":      func(tk *store.OAuthToken) { tk.SessionID = "" },
		"no client":       func(tk *store.OAuthToken) { tk.ClientID = "" },
		"NUL in client":   func(tk *store.OAuthToken) { tk.ClientID = "a\x00b" },
		"expires at once": func(tk *store.OAuthToken) { tk.ExpiresAt = tk.CreatedAt.Add(-time.Second) },
	} {
		tk := NewOAuthToken(store.OAuthAccess, newID(), newSecretHash())
		mut(&tk)
		wantErr(t, "CreateOAuthToken with "+name, o.CreateOAuthToken(t.Context(), tk), store.ErrInvalid)
	}
}

func testTokenUnknown(t *testing.T, o store.OAuth) {
	_, err := o.OAuthTokenByHash(t.Context(), newSecretHash())
	wantErr(t, "OAuthTokenByHash of an unknown token", err, store.ErrNotFound)
	_, err = o.OAuthTokenByHash(t.Context(), []byte{1, 2, 3})
	wantErr(t, "OAuthTokenByHash of a malformed hash", err, store.ErrNotFound)
}

func testDeleteOAuthTokens(t *testing.T, o store.OAuth) {
	ctx := t.Context()
	mine, other := newID(), newID()
	grant := newSecretHash()
	code, otherCode := NewOAuthCode(mine), NewOAuthCode(other)
	mustCreateCode(t, o, code)
	mustCreateCode(t, o, otherCode)
	a, r := NewOAuthToken(store.OAuthAccess, mine, grant), NewOAuthToken(store.OAuthRefresh, mine, grant)
	keep := NewOAuthToken(store.OAuthAccess, other, newSecretHash())
	for _, tk := range []store.OAuthToken{a, r, keep} {
		mustCreateToken(t, o, tk)
	}
	n, err := o.DeleteOAuthTokens(ctx, mine)
	if err != nil || n != 2 {
		t.Fatalf("DeleteOAuthTokens: %d, %v; want 2", n, err)
	}
	for _, tk := range []store.OAuthToken{a, r} {
		_, err := o.OAuthTokenByHash(ctx, tk.Hash)
		wantErr(t, "OAuthTokenByHash of a deleted "+tk.Kind+" token", err, store.ErrNotFound)
	}
	_, err = o.ConsumeOAuthCode(ctx, code.Hash, t0)
	wantErr(t, "ConsumeOAuthCode of the session's deleted code", err, store.ErrNotFound)
	if got, err := o.OAuthTokenByHash(ctx, keep.Hash); err != nil {
		t.Errorf("another session's token is gone: %v", err)
	} else {
		checkToken(t, keep, got)
	}
	if _, err := o.ConsumeOAuthCode(ctx, otherCode.Hash, t0); err != nil {
		t.Errorf("another session's code is gone: %v", err)
	}
	if n, err := o.DeleteOAuthTokens(ctx, mine); err != nil || n != 0 {
		t.Errorf("DeleteOAuthTokens again: %d, %v; want 0", n, err)
	}
	if n, err := o.DeleteOAuthTokens(ctx, newID()); err != nil || n != 0 {
		t.Errorf("DeleteOAuthTokens of a session without tokens: %d, %v; want 0", n, err)
	}
	if n, err := o.DeleteOAuthTokens(ctx); err != nil || n != 0 {
		t.Errorf("DeleteOAuthTokens of no session: %d, %v; want 0", n, err)
	}
}

// testDeleteOAuthTokensOfMany removes the codes and tokens of many sessions
// in one call (more than one statement's or script's worth, a malformed id
// among them), and only theirs.
func testDeleteOAuthTokensOfMany(t *testing.T, o store.OAuth) {
	ctx := t.Context()
	const sessions = 1203
	ids := make([]string, 0, sessions+1)
	var gone []store.OAuthToken
	var codes []store.OAuthCode
	for i := range sessions {
		id := newID()
		ids = append(ids, id)
		if i%100 == 0 { // tokens and a code for a few of them
			tk := NewOAuthToken(store.OAuthAccess, id, newSecretHash())
			mustCreateToken(t, o, tk)
			gone = append(gone, tk)
			c := NewOAuthCode(id)
			mustCreateCode(t, o, c)
			codes = append(codes, c)
		}
	}
	ids = append(ids, "not\x00an id")
	keep := NewOAuthToken(store.OAuthRefresh, newID(), newSecretHash())
	mustCreateToken(t, o, keep)
	n, err := o.DeleteOAuthTokens(ctx, ids...)
	if err != nil || n != len(gone) {
		t.Fatalf("DeleteOAuthTokens of %d sessions: %d, %v; want %d", len(ids), n, err, len(gone))
	}
	for _, tk := range gone {
		_, err := o.OAuthTokenByHash(ctx, tk.Hash)
		wantErr(t, "OAuthTokenByHash of a deleted token", err, store.ErrNotFound)
	}
	for _, c := range codes {
		_, err := o.ConsumeOAuthCode(ctx, c.Hash, t0)
		wantErr(t, "ConsumeOAuthCode of a deleted code", err, store.ErrNotFound)
	}
	if _, err := o.OAuthTokenByHash(ctx, keep.Hash); err != nil {
		t.Errorf("another session's token is gone: %v", err)
	}
}

func testDeleteOAuthGrant(t *testing.T, o store.OAuth) {
	ctx := t.Context()
	sid := newID()
	g1, g2 := newSecretHash(), newSecretHash()
	a1, r1 := NewOAuthToken(store.OAuthAccess, sid, g1), NewOAuthToken(store.OAuthRefresh, sid, g1)
	a2 := NewOAuthToken(store.OAuthAccess, sid, g2)
	for _, tk := range []store.OAuthToken{a1, r1, a2} {
		mustCreateToken(t, o, tk)
	}
	n, err := o.DeleteOAuthGrant(ctx, g1)
	if err != nil || n != 2 {
		t.Fatalf("DeleteOAuthGrant: %d, %v; want 2", n, err)
	}
	for _, tk := range []store.OAuthToken{a1, r1} {
		_, err := o.OAuthTokenByHash(ctx, tk.Hash)
		wantErr(t, "OAuthTokenByHash of a token of the deleted grant", err, store.ErrNotFound)
	}
	if _, err := o.OAuthTokenByHash(ctx, a2.Hash); err != nil {
		t.Errorf("a token of another grant is gone: %v", err)
	}
	if n, err := o.DeleteOAuthGrant(ctx, g1); err != nil || n != 0 {
		t.Errorf("DeleteOAuthGrant again: %d, %v; want 0", n, err)
	}
	// The session's other tokens are still found by session.
	if n, err := o.DeleteOAuthTokens(ctx, sid); err != nil || n != 1 {
		t.Errorf("DeleteOAuthTokens after DeleteOAuthGrant: %d, %v; want 1", n, err)
	}
}

func testSweepOAuth(t *testing.T, o store.OAuth) {
	ctx := t.Context()
	sid := newID()
	oldCode, liveCode := NewOAuthCode(sid), NewOAuthCode(sid)
	oldCode.CreatedAt, oldCode.ExpiresAt = t0.Add(-2*time.Minute), t0.Add(-time.Minute)
	liveCode.ExpiresAt = t0.Add(time.Minute)
	mustCreateCode(t, o, oldCode)
	mustCreateCode(t, o, liveCode)
	grant := newSecretHash()
	var old []store.OAuthToken
	for i := range 5 {
		tk := NewOAuthToken(store.OAuthAccess, sid, grant)
		tk.CreatedAt, tk.ExpiresAt = t0.Add(-time.Hour), t0.Add(-time.Duration(i+1)*time.Minute)
		mustCreateToken(t, o, tk)
		old = append(old, tk)
	}
	atNow := NewOAuthToken(store.OAuthAccess, sid, grant)
	atNow.CreatedAt, atNow.ExpiresAt = t0.Add(-time.Hour), t0
	mustCreateToken(t, o, atNow)
	live := NewOAuthToken(store.OAuthRefresh, sid, grant)
	mustCreateToken(t, o, live)

	// Seven records are expired at t0 (the token expiring exactly at t0
	// included); a limit of 3 takes three of them.
	n, err := o.SweepOAuth(ctx, t0, 3)
	if err != nil || n != 3 {
		t.Fatalf("SweepOAuth(limit 3): %d, %v; want 3", n, err)
	}
	n, err = o.SweepOAuth(ctx, t0, 0)
	if err != nil || n != 4 {
		t.Fatalf("SweepOAuth(no limit): %d, %v; want the other 4", n, err)
	}
	if n, err := o.SweepOAuth(ctx, t0, 0); err != nil || n != 0 {
		t.Fatalf("SweepOAuth again: %d, %v; want 0", n, err)
	}
	for _, tk := range append(old, atNow) {
		_, err := o.OAuthTokenByHash(ctx, tk.Hash)
		wantErr(t, "OAuthTokenByHash of a swept token", err, store.ErrNotFound)
	}
	_, err = o.ConsumeOAuthCode(ctx, oldCode.Hash, t0.Add(-2*time.Minute))
	wantErr(t, "ConsumeOAuthCode of a swept code", err, store.ErrNotFound)
	if _, err := o.OAuthTokenByHash(ctx, live.Hash); err != nil {
		t.Errorf("a live token was swept: %v", err)
	}
	if _, err := o.ConsumeOAuthCode(ctx, liveCode.Hash, t0); err != nil {
		t.Errorf("a live code was swept: %v", err)
	}
	// What the sweep removed is gone from the session's index too.
	if n, err := o.DeleteOAuthTokens(ctx, sid); err != nil || n != 1 {
		t.Errorf("DeleteOAuthTokens after the sweep: %d, %v; want 1", n, err)
	}
}

func testOAuthCopies(t *testing.T, o store.OAuth) {
	c := NewOAuthCode(newID())
	want := c
	want.Hash = bytes.Clone(c.Hash)
	mustCreateCode(t, o, c)
	c.Hash[0] ^= 0xff // the caller's slice changes after the call
	got, err := o.ConsumeOAuthCode(t.Context(), want.Hash, t0)
	if err != nil {
		t.Fatalf("the store kept the caller's slice: %v", err)
	}
	got.Hash[0] ^= 0xff
	tk := NewOAuthToken(store.OAuthAccess, newID(), newSecretHash())
	mustCreateToken(t, o, tk)
	g1, err := o.OAuthTokenByHash(t.Context(), tk.Hash)
	if err != nil {
		t.Fatal(err)
	}
	g1.Hash[0] ^= 0xff
	g1.Grant[0] ^= 0xff
	g2, err := o.OAuthTokenByHash(t.Context(), tk.Hash)
	if err != nil {
		t.Fatal(err)
	}
	checkToken(t, tk, g2)
}

func (s suite) testOAuthCreateHereUseThere(t *testing.T) {
	a, b := s.oauthPair(t)
	ctx := t.Context()
	sid := newID()
	c := NewOAuthCode(sid)
	mustCreateCode(t, a, c)
	if _, err := b.ConsumeOAuthCode(ctx, c.Hash, t0); err != nil {
		t.Fatalf("ConsumeOAuthCode on the other handle: %v", err)
	}
	_, err := a.ConsumeOAuthCode(ctx, c.Hash, t0)
	wantErr(t, "ConsumeOAuthCode again on the first handle", err, store.ErrConsumed)
	tk := NewOAuthToken(store.OAuthAccess, sid, c.Hash)
	mustCreateToken(t, b, tk)
	got, err := a.OAuthTokenByHash(ctx, tk.Hash)
	if err != nil {
		t.Fatalf("OAuthTokenByHash on the other handle: %v", err)
	}
	checkToken(t, tk, got)
	if n, err := a.DeleteOAuthGrant(ctx, c.Hash); err != nil || n != 1 {
		t.Fatalf("DeleteOAuthGrant on the other handle: %d, %v", n, err)
	}
	_, err = b.OAuthTokenByHash(ctx, tk.Hash)
	wantErr(t, "OAuthTokenByHash after DeleteOAuthGrant on the other handle", err, store.ErrNotFound)
	tk2 := NewOAuthToken(store.OAuthAccess, sid, c.Hash)
	mustCreateToken(t, a, tk2)
	if n, err := b.DeleteOAuthTokens(ctx, sid); err != nil || n != 1 {
		t.Fatalf("DeleteOAuthTokens on the other handle: %d, %v", n, err)
	}
	_, err = a.OAuthTokenByHash(ctx, tk2.Hash)
	wantErr(t, "OAuthTokenByHash after DeleteOAuthTokens on the other handle", err, store.ErrNotFound)
}

func (s suite) testConsumeCodeConcurrentAcross(t *testing.T) {
	a, b := s.oauthPair(t)
	c := NewOAuthCode(newID())
	mustCreateCode(t, a, c)
	if wins, consumed := raceConsumeCode(t, []store.OAuth{a, b}, c.Hash); wins != 1 || consumed != Racers-1 {
		t.Fatalf("%d successes and %d ErrConsumed, want 1 and %d", wins, consumed, Racers-1)
	}
}

func (s suite) testCreateCodeConcurrentAcross(t *testing.T) {
	a, b := s.oauthPair(t)
	ctx := t.Context()
	for i := range Racers {
		ca, cb := NewOAuthCode(newID()), NewOAuthCode(newID())
		cb.Hash = bytes.Clone(ca.Hash)
		ea, eb := race2(func() error { return a.CreateOAuthCode(ctx, ca) }, func() error { return b.CreateOAuthCode(ctx, cb) })
		aWon, ok := oneWins(t, fmt.Sprintf("round %d: two codes with one hash", i), ea, eb)
		if !ok {
			continue
		}
		win := ca
		if !aWon {
			win = cb
		}
		got, err := b.ConsumeOAuthCode(ctx, win.Hash, t0)
		if err != nil {
			t.Fatalf("round %d: ConsumeOAuthCode: %v", i, err)
		}
		win.Used = true
		checkCode(t, win, got)
	}
}
