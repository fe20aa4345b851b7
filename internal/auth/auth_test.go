package auth

import (
	"context"
	"encoding/base64"
	"errors"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/uapid/uapid/internal/passwd"
	"github.com/uapid/uapid/internal/store"
	"github.com/uapid/uapid/internal/store/sqlstore"
	"github.com/uapid/uapid/internal/uapi"
)

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func TestParseAuthorization(t *testing.T) {
	cases := []struct {
		h                    string
		scheme, user, secret string
		ok                   bool
	}{
		{"Basic " + b64("alice:pw"), "basic", "alice", "pw", true},
		{"basic " + b64("alice:pw:with:colons"), "basic", "alice", "pw:with:colons", true},
		{"Basic " + b64("alice:"), "basic", "alice", "", true},
		{"cpanel alice:TOKEN", "cpanel", "alice", "TOKEN", true},
		{"whm root:TOKEN", "whm", "root", "TOKEN", true},
		{"WHM root:TOKEN", "whm", "root", "TOKEN", true},
		{"Cpanel alice:TOKEN", "", "", "", false},
		{"Whm root:TOKEN", "", "", "", false},
		{"Basic " + b64(":pw"), "", "", "", false},
		{"Basic " + b64("nocolon"), "", "", "", false},
		{"Basic " + b64("al\r\nice:pw"), "", "", "", false},
		{"Basic !!!", "", "", "", false},
		{"Bearer abc", "", "", "", false},
		{"cpanel alice", "", "", "", false},
		{"cpanel :TOKEN", "", "", "", false},
		{"cpanel alice:", "", "", "", false},
		{"cpanel alice:TO\x00KEN", "", "", "", false},
		{"", "", "", "", false},
		{"Basic", "", "", "", false},
	}
	for _, c := range cases {
		s, u, p, ok := ParseAuthorization(c.h)
		if ok != c.ok || s != c.scheme || u != c.user || p != c.secret {
			t.Errorf("ParseAuthorization(%q) = %q %q %q %v, want %q %q %q %v", c.h, s, u, p, ok, c.scheme, c.user, c.secret, c.ok)
		}
	}
}

func FuzzParseAuthorization(f *testing.F) {
	for _, s := range []string{"Basic " + b64("a:b"), "cpanel a:B", "whm root:X", "WHM r:Y", "Basic", "cpanel ::", "Basic " + b64("\x00:\n")} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		s, u, p, ok := ParseAuthorization(h)
		if !ok {
			return
		}
		if u == "" || !printable(u) || (s != "basic" && !printable(p)) {
			t.Fatalf("accepted %q as %q %q %q", h, s, u, p)
		}
	})
}

func newDir(t testing.TB) store.Directory {
	t.Helper()
	db, err := sqlstore.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "d.db"), sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db.Directory()
}

// setPassword and setSuspended change an account through the store's
// update transaction.
func setPassword(ctx context.Context, d store.Directory, user, hash string) error {
	_, err := d.UpdateAccount(ctx, user, func(a *store.Account) error { a.PasswordHash = hash; return nil })
	return err
}

func setSuspended(ctx context.Context, d store.Directory, user string, suspended bool) error {
	_, err := d.UpdateAccount(ctx, user, func(a *store.Account) error { a.Suspended = suspended; return nil })
	return err
}

func mustHash(t testing.TB, pw string) string {
	t.Helper()
	h, err := passwd.Hash(pw)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestCacheFollowsDirectory: a cached verification stops counting the moment
// the password changes or the account is suspended or removed.
func TestCacheFollowsDirectory(t *testing.T) {
	ctx := context.Background()
	d := newDir(t)
	if err := d.PutAccount(ctx, store.Account{User: "alice", PasswordHash: mustHash(t, "one"), Domains: []string{"alice.test"}}); err != nil {
		t.Fatal(err)
	}
	a := &Authenticator{Dir: d, Cache: NewCredCache(time.Minute, 10)}
	remote := netip.MustParseAddr("127.0.0.1")
	login := func(pw string) error {
		_, err := a.password(ctx, uapi.ServiceCPanel, "alice", pw, remote)
		return err
	}
	if err := login("one"); err != nil {
		t.Fatal(err)
	}
	if err := login("one"); err != nil { // from the cache
		t.Fatal(err)
	}
	if err := setPassword(ctx, d, "alice", mustHash(t, "two")); err != nil {
		t.Fatal(err)
	}
	if err := login("one"); !errors.Is(err, ErrDenied) {
		t.Fatalf("old password after change: %v", err)
	}
	if err := login("two"); err != nil {
		t.Fatal(err)
	}
	if err := setSuspended(ctx, d, "alice", true); err != nil {
		t.Fatal(err)
	}
	if err := login("two"); !errors.Is(err, ErrDenied) {
		t.Fatalf("suspended account: %v", err)
	}
	if err := setSuspended(ctx, d, "alice", false); err != nil {
		t.Fatal(err)
	}
	if err := d.RemoveAccount(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	if err := login("two"); !errors.Is(err, ErrDenied) {
		t.Fatalf("removed account: %v", err)
	}
}

func TestCredCacheBounded(t *testing.T) {
	c := NewCredCache(time.Minute, 3)
	for i := range 10 {
		c.Remember("cpaneld", "u", "h", string(rune('a'+i)))
	}
	if n := len(c.entries); n > 3 {
		t.Fatalf("%d entries, bound is 3", n)
	}
	var nilCache *CredCache
	nilCache.Remember("s", "u", "h", "p")
	if nilCache.Check("s", "u", "h", "p") {
		t.Fatal("nil cache remembered")
	}
	c.Remember("s", "u", "h", "p")
	if !c.Check("s", "u", "h", "p") || c.Check("s", "u", "h2", "p") || c.Check("s", "u2", "h", "p") || c.Check("t", "u", "h", "p") {
		t.Fatal("cache key does not bind service, user, hash and password")
	}
}

func TestTokenRules(t *testing.T) {
	ctx := context.Background()
	d := newDir(t)
	if err := d.PutAccount(ctx, store.Account{User: "alice", PasswordHash: mustHash(t, "x"), Domains: []string{"alice.test"}}); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	secret := NewTokenSecret()
	expired := NewTokenSecret()
	fenced := NewTokenSecret()
	for _, tk := range []store.Token{
		{User: "alice", Name: "ok", Hash: HashToken(secret)},
		{User: "alice", Name: "old", Hash: HashToken(expired), ExpiresAt: now.Add(-time.Second)},
		{User: "alice", Name: "fenced", Hash: HashToken(fenced), AllowIPs: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}},
	} {
		if err := d.PutToken(ctx, tk); err != nil {
			t.Fatal(err)
		}
	}
	a := &Authenticator{Dir: d}
	in, out := netip.MustParseAddr("10.1.2.3"), netip.MustParseAddr("192.0.2.1")
	check := func(secret string, remote netip.Addr, want bool) {
		t.Helper()
		_, err := a.token(ctx, uapi.ServiceCPanel, "cpanel", "alice", secret, remote)
		if (err == nil) != want {
			t.Fatalf("token from %s: err %v, want ok=%v", remote, err, want)
		}
	}
	check(secret, out, true)
	check(expired, out, false)
	check(fenced, in, true)
	check(fenced, out, false)
	check(fenced, netip.Addr{}, false)
	if _, err := a.token(ctx, uapi.ServiceWHM, "whm", "alice", secret, out); !errors.Is(err, ErrDenied) {
		t.Fatal("a non-reseller's token worked as a whm token")
	}
}
