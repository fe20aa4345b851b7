package auth

import (
	"context"
	"errors"
	"net/netip"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/uapid/uapid/internal/store"
	"github.com/uapid/uapid/internal/store/sqlstore"
	"github.com/uapid/uapid/internal/uapi"
)

// countingDir counts the reads that the directory cache should save.
type countingDir struct {
	store.Directory
	reads atomic.Int64
}

func (c *countingDir) GetAccount(ctx context.Context, user string) (store.Account, error) {
	c.reads.Add(1)
	return c.Directory.GetAccount(ctx, user)
}

func (c *countingDir) GetMailbox(ctx context.Context, address string) (store.Mailbox, error) {
	c.reads.Add(1)
	return c.Directory.GetMailbox(ctx, address)
}

func (c *countingDir) TokenByHash(ctx context.Context, user string, hash []byte) (store.Token, error) {
	c.reads.Add(1)
	return c.Directory.TokenByHash(ctx, user, hash)
}

// updateMailbox changes a mailbox through the store's update transaction.
func updateMailbox(ctx context.Context, d store.Directory, address string, fn func(*store.Mailbox)) error {
	_, err := d.UpdateMailbox(ctx, address, func(m *store.Mailbox) error { fn(m); return nil })
	return err
}

// twoHandles opens one SQLite directory file twice, as the server and
// another process (the CLI) do.
func twoHandles(t *testing.T) (server, other store.Directory) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "d.db")
	open := func() store.Directory {
		db, err := sqlstore.OpenSQLite(context.Background(), path, sqlstore.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db.Directory()
	}
	return open(), open()
}

// TestDirCacheFollowsOtherProcess: answers are cached while the directory
// is unchanged, and a change made through another handle (another process)
// takes effect on the very next check.
func TestDirCacheFollowsOtherProcess(t *testing.T) {
	ctx := context.Background()
	srv, other := twoHandles(t)
	cd := &countingDir{Directory: srv}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(other.PutAccount(ctx, store.Account{User: "alice", PasswordHash: mustHash(t, "pw"), Domains: []string{"alice.test"}}))
	must(other.PutMailbox(ctx, store.Mailbox{Address: "info@alice.test", Account: "alice", PasswordHash: mustHash(t, "mpw")}))
	secret := NewTokenSecret()
	must(other.PutToken(ctx, store.Token{User: "alice", Name: "ci", Hash: HashToken(secret)}))

	a := &Authenticator{Dir: cd, Cache: NewCredCache(0, 10)}
	remote := netip.MustParseAddr("192.0.2.1")
	token := func() error {
		_, err := a.token(ctx, uapi.ServiceCPanel, "cpanel", "alice", secret, remote)
		return err
	}
	allowed := func() bool {
		ok, err := a.LoginAllowed(ctx, "alice", "info@alice.test")
		must(err)
		return ok
	}

	for range 5 {
		must(token())
		if !allowed() {
			t.Fatal("LoginAllowed = false for an active mailbox")
		}
	}
	// account + token, then the mailbox: each read once.
	if n := cd.reads.Load(); n != 3 {
		t.Errorf("%d directory reads for 5 token checks and 5 login checks, want 3 (cached)", n)
	}

	must(setSuspended(ctx, other, "alice", true))
	if err := token(); !errors.Is(err, ErrDenied) {
		t.Fatalf("token of an account suspended by another process: %v, want ErrDenied", err)
	}
	if allowed() {
		t.Fatal("LoginAllowed = true for an account suspended by another process")
	}
	must(setSuspended(ctx, other, "alice", false))
	must(token())

	must(updateMailbox(ctx, other, "info@alice.test", func(m *store.Mailbox) { m.SuspendedLogin = true }))
	if allowed() {
		t.Fatal("LoginAllowed = true for a mailbox suspended by another process")
	}
	must(updateMailbox(ctx, other, "info@alice.test", func(m *store.Mailbox) { m.SuspendedLogin = false }))
	if !allowed() {
		t.Fatal("LoginAllowed = false after the mailbox was unsuspended")
	}

	must(other.RevokeToken(ctx, "alice", "ci"))
	if err := token(); !errors.Is(err, ErrDenied) {
		t.Fatalf("token revoked by another process: %v, want ErrDenied", err)
	}

	// A password change elsewhere: the old password stops working at once,
	// the new one works.
	if _, err := a.password(ctx, uapi.ServiceWebmail, "info@alice.test", "mpw", remote); err != nil {
		t.Fatal(err)
	}
	must(updateMailbox(ctx, other, "info@alice.test", func(m *store.Mailbox) { m.PasswordHash = mustHash(t, "new") }))
	if _, err := a.password(ctx, uapi.ServiceWebmail, "info@alice.test", "mpw", remote); !errors.Is(err, ErrDenied) {
		t.Fatalf("old password after a change by another process: %v, want ErrDenied", err)
	}
	if _, err := a.password(ctx, uapi.ServiceWebmail, "info@alice.test", "new", remote); err != nil {
		t.Fatalf("new password: %v", err)
	}

	must(other.RemoveAccount(ctx, "alice"))
	if allowed() {
		t.Fatal("LoginAllowed = true for a removed account")
	}
	if _, err := a.password(ctx, uapi.ServiceWebmail, "info@alice.test", "new", remote); !errors.Is(err, ErrDenied) {
		t.Fatalf("password of a removed mailbox: %v, want ErrDenied", err)
	}
}

// TestDirCacheGenerations: an entry read under one generation is never
// served to a check that saw another, and a full cache starts afresh.
func TestDirCacheGenerations(t *testing.T) {
	d := newDir(t)
	ctx := context.Background()
	if err := d.PutAccount(ctx, store.Account{User: "alice", PasswordHash: mustHash(t, "x"), Domains: []string{"alice.test"}}); err != nil {
		t.Fatal(err)
	}
	c := newDirCache(d)
	c.max = 2
	c.put(1, cacheKey{kind: 'a', a: "alice"}, cacheVal{acct: store.Account{User: "stale"}})
	if _, ok := c.get(2, cacheKey{kind: 'a', a: "alice"}); ok {
		t.Fatal("entry of generation 1 served at generation 2")
	}
	v := dirView{c: c, gen: 2}
	a, err := v.account(ctx, "alice")
	if err != nil || a.User != "alice" {
		t.Fatalf("account = %+v, %v", a, err)
	}
	if _, ok := c.get(1, cacheKey{kind: 'a', a: "alice"}); ok {
		t.Fatal("generation 1 still cached after generation 2 was stored")
	}
	if _, err := v.account(ctx, "nobody"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown account: %v", err)
	}
	if e, ok := c.get(2, cacheKey{kind: 'a', a: "nobody"}); !ok || !errors.Is(e.err, store.ErrNotFound) {
		t.Fatal("not found is not cached")
	}
	v.account(ctx, "third") // the cache is full: it starts afresh
	if len(c.entries) != 1 {
		t.Fatalf("%d entries after overflow, want 1", len(c.entries))
	}
}

// genCountingDir also counts generation queries.
type genCountingDir struct {
	countingDir
	gens atomic.Int64
}

func (c *genCountingDir) Generation(ctx context.Context) (int64, error) {
	c.gens.Add(1)
	return c.countingDir.Directory.Generation(ctx)
}

// TestRequestView: within one request (WithRequestView) authentication and
// the module's ownership lookups share one generation query and the cache;
// the next request sees a change made by another process; outside a
// request, Directory() reads the directory directly.
func TestRequestView(t *testing.T) {
	srv, other := twoHandles(t)
	cd := &genCountingDir{countingDir: countingDir{Directory: srv}}
	bg := context.Background()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(other.PutAccount(bg, store.Account{User: "alice", PasswordHash: mustHash(t, "pw"), Domains: []string{"alice.test"}}))
	must(other.PutMailbox(bg, store.Mailbox{Address: "info@alice.test", Account: "alice", PasswordHash: mustHash(t, "mpw")}))
	secret := NewTokenSecret()
	must(other.PutToken(bg, store.Token{User: "alice", Name: "ci", Hash: HashToken(secret)}))

	a := &Authenticator{Dir: cd, Cache: NewCredCache(0, 10)}
	dir := a.Directory()
	remote := netip.MustParseAddr("192.0.2.1")
	request := func() (store.Mailbox, error) {
		ctx := WithRequestView(bg)
		if _, err := a.token(ctx, uapi.ServiceCPanel, "cpanel", "alice", secret, remote); err != nil {
			return store.Mailbox{}, err
		}
		if _, err := dir.GetAccount(ctx, "alice"); err != nil {
			return store.Mailbox{}, err
		}
		return dir.GetMailbox(ctx, "info@alice.test")
	}

	if _, err := request(); err != nil {
		t.Fatal(err)
	}
	gens, reads := cd.gens.Load(), cd.reads.Load()
	if gens != 1 {
		t.Errorf("first request: %d generation queries, want 1", gens)
	}
	if _, err := request(); err != nil {
		t.Fatal(err)
	}
	if g, r := cd.gens.Load()-gens, cd.reads.Load()-reads; g != 1 || r != 0 {
		t.Errorf("second request: %d generation queries and %d reads, want 1 and 0", g, r)
	}

	// A mailbox moved away by another process: the next request sees it.
	must(other.RemoveMailbox(bg, "info@alice.test"))
	if _, err := request(); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("after removal by another process: %v, want ErrNotFound", err)
	}

	// Answers handed out are the caller's own.
	ctx := WithRequestView(bg)
	acct, err := dir.GetAccount(ctx, "alice")
	must(err)
	acct.Domains[0] = "mallory.test"
	if again, _ := dir.GetAccount(ctx, "alice"); again.Domains[0] != "alice.test" {
		t.Errorf("a caller's change reached the cache: %v", again.Domains)
	}

	// Outside a request: no cache, no generation query.
	gens, reads = cd.gens.Load(), cd.reads.Load()
	if _, err := dir.GetAccount(bg, "alice"); err != nil {
		t.Fatal(err)
	}
	if g, r := cd.gens.Load()-gens, cd.reads.Load()-reads; g != 0 || r != 1 {
		t.Errorf("outside a request: %d generation queries and %d reads, want 0 and 1", g, r)
	}
}
