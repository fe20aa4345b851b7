package auth

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/uapid/uapid/internal/store"
	"github.com/uapid/uapid/internal/uapi"
)

// benchAuth returns an Authenticator over a SQLite directory with account
// alice (password "pw", an API token) and mailbox info@alice.test.
func benchAuth(b *testing.B) (*Authenticator, string) {
	b.Helper()
	ctx := context.Background()
	d := newDir(b)
	h := mustHash(b, "pw")
	if err := d.PutAccount(ctx, store.Account{User: "alice", PasswordHash: h, Domains: []string{"alice.test"}}); err != nil {
		b.Fatal(err)
	}
	if err := d.PutMailbox(ctx, store.Mailbox{Address: "info@alice.test", Account: "alice", PasswordHash: h}); err != nil {
		b.Fatal(err)
	}
	secret := NewTokenSecret()
	if err := d.PutToken(ctx, store.Token{User: "alice", Name: "ci", Hash: HashToken(secret)}); err != nil {
		b.Fatal(err)
	}
	return &Authenticator{Dir: d, Cache: NewCredCache(time.Hour, 1000)}, secret
}

var benchRemote = netip.MustParseAddr("192.0.2.1")

// BenchmarkToken is "Authorization: cpanel alice:TOKEN": one generation
// read, then the cached account and token.
func BenchmarkToken(b *testing.B) {
	a, secret := benchAuth(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.token(ctx, uapi.ServiceCPanel, "cpanel", "alice", secret, benchRemote); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPasswordCached is Basic auth of a password verified before (the
// CredCache spares the crypt(3) verification).
func BenchmarkPasswordCached(b *testing.B) {
	a, _ := benchAuth(b)
	ctx := context.Background()
	if _, err := a.password(ctx, uapi.ServiceCPanel, "alice", "pw", benchRemote); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.password(ctx, uapi.ServiceCPanel, "alice", "pw", benchRemote); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLoginAllowed is the account and mailbox check of every session
// login and cookie request.
func BenchmarkLoginAllowed(b *testing.B) {
	a, _ := benchAuth(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if ok, err := a.LoginAllowed(ctx, "alice", "info@alice.test"); err != nil || !ok {
			b.Fatal(ok, err)
		}
	}
}

// BenchmarkCredCache is one lookup of a remembered verification.
func BenchmarkCredCache(b *testing.B) {
	c := NewCredCache(time.Hour, 1000)
	c.Remember("cpaneld", "alice", "$6$salt$hash", "pw")
	b.ReportAllocs()
	for b.Loop() {
		if !c.Check("cpaneld", "alice", "$6$salt$hash", "pw") {
			b.Fatal("miss")
		}
	}
}
