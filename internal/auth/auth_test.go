package auth

import (
	"context"
	"crypto/sha512"
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

// TestCheckMailboxPasswordVerifiesEachTime: check_password verifies the
// password against the stored hash every time; the cache of verified
// passwords (for Basic auth and mail clients) plays no part. An entry
// planted in the cache for a wrong password must not make it pass.
func TestCheckMailboxPasswordVerifiesEachTime(t *testing.T) {
	ctx := context.Background()
	a := &Authenticator{Cache: NewCredCache(time.Minute, 10)}
	m := store.Mailbox{Address: "info@alice.test", Account: "alice", PasswordHash: mustHash(t, "Right-pass-1")}
	remote := netip.MustParseAddr("192.0.2.7")
	if err := a.CheckMailboxPassword(ctx, m, "Right-pass-1", remote); err != nil {
		t.Fatalf("right password: %v", err)
	}
	for _, service := range []string{uapi.ServiceWebmail, uapi.ServiceCPanel, ""} {
		a.Cache.Remember(service, m.Address, m.PasswordHash, "Wrong-pass-1")
	}
	if err := a.CheckMailboxPassword(ctx, m, "Wrong-pass-1", remote); !errors.Is(err, ErrBadPassword) {
		t.Fatalf("wrong password with a cache entry for it: %v, want ErrBadPassword", err)
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

// hashLenDir counts TokenByHash lookups by hash length.
type hashLenDir struct {
	store.Directory
	lookups map[int]int
}

func (c *hashLenDir) TokenByHash(ctx context.Context, user string, hash []byte) (store.Token, error) {
	c.lookups[len(hash)]++
	return c.Directory.TokenByHash(ctx, user, hash)
}

// TestTokenSHA512: a token stored as cPanel keeps it (the SHA-512 of the
// secret, as the cPanel importer carries it over) authenticates with its
// secret, under the same rules as uapid's own tokens (expiry, allow-list,
// whm only for root and resellers); the SHA-512 is looked up only when the
// SHA-256 finds nothing.
func TestTokenSHA512(t *testing.T) {
	ctx := context.Background()
	d := newDir(t)
	for _, a := range []store.Account{
		{User: "res", Domains: []string{"res.test"}, Reseller: true},
		{User: "alice", Domains: []string{"alice.test"}, Owner: "res"},
	} {
		if err := d.PutAccount(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	sha512of := func(s string) []byte { h := sha512.Sum512([]byte(s)); return h[:] }
	now := time.Now()
	cp, expired, fenced, whm, rootTok, own := NewTokenSecret(), NewTokenSecret(), NewTokenSecret(), NewTokenSecret(), NewTokenSecret(), NewTokenSecret()
	for _, tk := range []store.Token{
		{User: "alice", Name: "cp", Hash: sha512of(cp)},
		{User: "alice", Name: "old", Hash: sha512of(expired), ExpiresAt: now.Add(-time.Second)},
		{User: "alice", Name: "fenced", Hash: sha512of(fenced), AllowIPs: []netip.Prefix{netip.MustParsePrefix("2001:db8::/32"), netip.MustParsePrefix("10.0.0.0/8")}},
		{User: "res", Name: "whm", Hash: sha512of(whm)},
		{User: "root", Name: "billing", Hash: sha512of(rootTok)},
		{User: "alice", Name: "own", Hash: HashToken(own)},
	} {
		if err := d.CreateToken(ctx, tk); err != nil {
			t.Fatal(err)
		}
	}
	cd := &hashLenDir{Directory: d, lookups: map[int]int{}}
	a := &Authenticator{Dir: cd}
	in, in6, out := netip.MustParseAddr("10.1.2.3"), netip.MustParseAddr("2001:db8::7"), netip.MustParseAddr("192.0.2.1")
	for _, c := range []struct {
		name                          string
		service, scheme, user, secret string
		remote                        netip.Addr
		want                          bool
	}{
		{"cPanel token", uapi.ServiceCPanel, "cpanel", "alice", cp, out, true},
		{"user in upper case", uapi.ServiceCPanel, "cpanel", "ALICE", cp, out, true},
		{"another user's", uapi.ServiceCPanel, "cpanel", "res", cp, out, false},
		{"expired", uapi.ServiceCPanel, "cpanel", "alice", expired, out, false},
		{"inside the allow-list", uapi.ServiceCPanel, "cpanel", "alice", fenced, in, true},
		{"inside the allow-list (IPv6)", uapi.ServiceCPanel, "cpanel", "alice", fenced, in6, true},
		{"outside the allow-list", uapi.ServiceCPanel, "cpanel", "alice", fenced, out, false},
		{"reseller as whm", uapi.ServiceWHM, "whm", "res", whm, out, true},
		{"account as whm", uapi.ServiceWHM, "whm", "alice", cp, out, false},
		{"root as whm", uapi.ServiceWHM, "whm", "root", rootTok, out, true},
		{"root as cpanel", uapi.ServiceCPanel, "cpanel", "root", rootTok, out, false},
		{"unknown secret", uapi.ServiceCPanel, "cpanel", "alice", NewTokenSecret(), out, false},
	} {
		_, err := a.token(ctx, c.service, c.scheme, c.user, c.secret, c.remote)
		if (err == nil) != c.want || (err != nil && !errors.Is(err, ErrDenied)) {
			t.Errorf("%s: err %v, want ok=%v", c.name, err, c.want)
		}
	}
	// uapid's own token: one SHA-256 lookup, no SHA-512.
	clear(cd.lookups)
	if _, err := a.token(ctx, uapi.ServiceCPanel, "cpanel", "alice", own, out); err != nil {
		t.Fatal(err)
	}
	if cd.lookups[64] != 0 {
		t.Errorf("a SHA-256 token cost %d SHA-512 lookups", cd.lookups[64])
	}
	// The SHA-512 of the secret stored as if it were a SHA-256 (its first
	// half) matches nothing.
	half := NewTokenSecret()
	if err := d.CreateToken(ctx, store.Token{User: "alice", Name: "half", Hash: sha512of(half)[:32]}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.token(ctx, uapi.ServiceCPanel, "cpanel", "alice", half, out); !errors.Is(err, ErrDenied) {
		t.Errorf("the first half of a SHA-512 authenticated: %v", err)
	}
}
