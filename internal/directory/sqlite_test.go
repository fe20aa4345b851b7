package directory

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uapid/uapid/internal/sqlite"
)

const hashA = "$6$3SEXnFBYReeZKw/0$LylmlhH1QR/8ptqJOR/4nmv2ZeSSm2Ot96M0H0UBCVVS7tPHEbhSOEfMRVnG9FDEGvCDknBMghfiQ8W1AGc4j/"
const hashB = "$1$mPjYXhV7$OSsxhPZ0Y9LJe2QVo.9qL/"

func openDB(t testing.TB, path string) *sql.DB {
	t.Helper()
	db, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func newDir(t testing.TB) (*SQLite, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "uapid.db")
	d, err := NewSQLite(context.Background(), openDB(t, path))
	if err != nil {
		t.Fatal(err)
	}
	return d, path
}

func gen(t testing.TB, d Directory) int64 {
	t.Helper()
	g, err := d.Generation(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// checkErr checks err against a wanted sentinel (nil: success) and a
// substring of its message.
func checkErr(t testing.TB, what string, err, want error, msg string) {
	t.Helper()
	switch {
	case want == nil && err != nil:
		t.Errorf("%s: unexpected error %v", what, err)
	case want != nil && !errors.Is(err, want):
		t.Errorf("%s: error %v, want %v", what, err, want)
	case want != nil && !strings.Contains(err.Error(), msg):
		t.Errorf("%s: error %q does not contain %q", what, err, msg)
	}
}

// fixtureDir returns a directory with: reseller "res" (owner root) owning
// "alice" (alice.test, shop.alice.test); "bob" (bob.test) owned by root;
// mailbox info@alice.test; a token "ci" for alice and "billing" for root.
func fixtureDir(t testing.TB) *SQLite {
	t.Helper()
	ctx := context.Background()
	d, _ := newDir(t)
	must(t, d.PutAccount(ctx, Account{User: "res", PasswordHash: hashA, Domains: []string{"res.test"}, Reseller: true}))
	must(t, d.PutAccount(ctx, Account{User: "alice", PasswordHash: hashA, Domains: []string{"alice.test", "shop.alice.test"}, Owner: "res", Databases: []string{"alice_wp"}}))
	must(t, d.PutAccount(ctx, Account{User: "bob", PasswordHash: hashB, Domains: []string{"bob.test"}}))
	must(t, d.PutMailbox(ctx, Mailbox{Address: "info@alice.test", Account: "alice", PasswordHash: hashB}))
	must(t, d.PutToken(ctx, Token{User: "alice", Name: "ci", Hash: HashToken("ALICETOKEN0123456789ABCDEFGHIJKL")}))
	must(t, d.PutToken(ctx, Token{User: "root", Name: "billing", Hash: HashToken("ROOTTOKEN0123456789ABCDEFGHIJKLM")}))
	return d
}

func TestMigrationsAreIdempotent(t *testing.T) {
	t.Parallel()
	d, path := newDir(t)
	must(t, d.SetRootPasswordHash(context.Background(), hashA))
	d2, err := NewSQLite(context.Background(), openDB(t, path))
	must(t, err)
	h, err := d2.RootPasswordHash(context.Background())
	must(t, err)
	if h != hashA {
		t.Errorf("root hash after reopening = %q", h)
	}
	must(t, d.Close())
	if _, err := d.Generation(context.Background()); err != nil {
		t.Errorf("Close closed the shared *sql.DB: %v", err)
	}
}

func TestRootPasswordHash(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d, _ := newDir(t)
	h, err := d.RootPasswordHash(ctx)
	must(t, err)
	if h != "" {
		t.Errorf("new directory root hash = %q, want empty", h)
	}
	g0 := gen(t, d)
	must(t, d.SetRootPasswordHash(ctx, hashA))
	if h, _ := d.RootPasswordHash(ctx); h != hashA {
		t.Errorf("root hash = %q", h)
	}
	g1 := gen(t, d)
	if g1 != g0+1 {
		t.Errorf("generation %d -> %d after a change, want +1", g0, g1)
	}
	must(t, d.SetRootPasswordHash(ctx, hashA))
	if g := gen(t, d); g != g1 {
		t.Errorf("generation moved (%d -> %d) on a no-op", g1, g)
	}
	checkErr(t, "bad hash", d.SetRootPasswordHash(ctx, "a:b"), ErrInvalid, "not a valid crypt string")
	must(t, d.SetRootPasswordHash(ctx, ""))
	if h, _ := d.RootPasswordHash(ctx); h != "" {
		t.Errorf("root hash = %q after clearing", h)
	}
}

func TestPutAccountValidation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	base := func() Account {
		return Account{User: "carol", PasswordHash: hashA, Domains: []string{"carol.test"}}
	}
	for _, tc := range []struct {
		name string
		edit func(a *Account)
		want error
		msg  string
	}{
		{"ok", func(a *Account) {}, nil, ""},
		{"upper-case user is lower-cased", func(a *Account) { a.User = "Carol" }, nil, ""},
		{"empty user", func(a *Account) { a.User = "" }, ErrInvalid, "“” is not a valid user name"},
		{"root", func(a *Account) { a.User = "root" }, ErrInvalid, "“root” is the superuser"},
		{"ROOT", func(a *Account) { a.User = "ROOT" }, ErrInvalid, "“root” is the superuser"},
		{"digit first", func(a *Account) { a.User = "1carol" }, ErrInvalid, "“1carol” is not a valid user name"},
		{"too long", func(a *Account) { a.User = "abcdefghijklmnopq" }, ErrInvalid, "is not a valid user name"},
		{"underscore", func(a *Account) { a.User = "ca_rol" }, ErrInvalid, "is not a valid user name"},
		{"bad hash", func(a *Account) { a.PasswordHash = "has space" }, ErrInvalid, "password hash of “carol” is not a valid crypt string"},
		{"empty hash", func(a *Account) { a.PasswordHash = "" }, nil, ""},
		{"bad domain", func(a *Account) { a.Domains = []string{"carol"} }, ErrInvalid, "“carol” is not a valid domain name"},
		{"bad domain 2", func(a *Account) { a.Domains = []string{"carol.test", "x..test"} }, ErrInvalid, "“x..test” is not a valid domain name"},
		{"domain twice", func(a *Account) { a.Domains = []string{"carol.test", "CAROL.test"} }, ErrInvalid, "domain “carol.test” is listed twice"},
		{"domain of another account", func(a *Account) { a.Domains = []string{"carol.test", "Bob.Test"} }, ErrExists, "domain “bob.test” belongs to another account"},
		{"no domains", func(a *Account) { a.Domains = nil }, nil, ""},
		{"bad locale", func(a *Account) { a.Locale = "en-US" }, ErrInvalid, "“en-US” is not a valid locale name"},
		{"locale", func(a *Account) { a.Locale = "pt_br" }, nil, ""},
		{"owner root", func(a *Account) { a.Owner = "root" }, nil, ""},
		{"owner reseller", func(a *Account) { a.Owner = "RES" }, nil, ""},
		{"owner unknown", func(a *Account) { a.Owner = "nobody" }, ErrInvalid, "owner “nobody” does not exist"},
		{"owner not reseller", func(a *Account) { a.Owner = "bob" }, ErrInvalid, "owner “bob” is not a reseller"},
		{"owns itself without being reseller", func(a *Account) { a.Owner = "carol" }, ErrInvalid, "can only own itself if it is a reseller"},
		{"reseller owns itself", func(a *Account) { a.Owner = "carol"; a.Reseller = true }, nil, ""},
		{"database", func(a *Account) { a.Databases = []string{"carol_wp", "carol_shop"} }, nil, ""},
		{"database without prefix", func(a *Account) { a.Databases = []string{"wp"} }, ErrInvalid, "“wp” is not a valid database name for “carol”"},
		{"database twice", func(a *Account) { a.Databases = []string{"carol_wp", "carol_wp"} }, ErrInvalid, "database “carol_wp” is listed twice"},
		{"demote reseller owning accounts", func(a *Account) { a.User = "res"; a.Domains = []string{"res.test"} }, ErrInvalid, "“res” cannot stop being a reseller while it owns accounts (“alice”)"},
		{"drop domain with mailboxes", func(a *Account) {
			a.User, a.Owner, a.Domains = "alice", "res", []string{"shop.alice.test"}
		}, ErrInvalid, "domain “alice.test” cannot be removed from “alice” while it has mailboxes"},
		{"drop domain without mailboxes", func(a *Account) {
			a.User, a.Owner, a.Domains = "alice", "res", []string{"alice.test"}
		}, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := fixtureDir(t)
			a := base()
			tc.edit(&a)
			g0 := gen(t, d)
			before, err := d.ListAccounts(ctx)
			must(t, err)
			err = d.PutAccount(ctx, a)
			checkErr(t, "PutAccount", err, tc.want, tc.msg)
			if err != nil {
				// A failed call changes nothing.
				after, err2 := d.ListAccounts(ctx)
				must(t, err2)
				if fmt.Sprint(before) != fmt.Sprint(after) {
					t.Errorf("failed PutAccount changed the accounts:\n%v\n%v", before, after)
				}
				if g := gen(t, d); g != g0 {
					t.Errorf("failed PutAccount moved the generation")
				}
				return
			}
			if g := gen(t, d); g != g0+1 {
				t.Errorf("generation %d -> %d, want +1", g0, g)
			}
			got, err := d.GetAccount(ctx, a.User)
			must(t, err)
			if got.User != strings.ToLower(a.User) {
				t.Errorf("stored user %q", got.User)
			}
		})
	}
}

func TestPutGetAccount(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := fixtureDir(t)
	a := Account{User: "Dave", PasswordHash: hashA, Domains: []string{"Dave.TEST", "www.dave.test"}, Databases: []string{"dave_a", "dave_b"}}
	must(t, d.PutAccount(ctx, a))
	got, err := d.GetAccount(ctx, "DAVE")
	must(t, err)
	want := Account{User: "dave", PasswordHash: hashA, Domains: []string{"dave.test", "www.dave.test"}, Locale: "en", Owner: "root", Databases: []string{"dave_a", "dave_b"}}
	created := got.CreatedAt
	if time.Since(created) > time.Minute || created.IsZero() {
		t.Errorf("CreatedAt = %v", created)
	}
	got.CreatedAt = time.Time{}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("GetAccount =\n%+v, want\n%+v", got, want)
	}

	// The same again changes nothing.
	g := gen(t, d)
	must(t, d.PutAccount(ctx, want))
	if gen(t, d) != g {
		t.Error("identical PutAccount moved the generation")
	}

	// Replace: every field changes, CreatedAt stays, domain order is kept.
	repl := Account{User: "dave", PasswordHash: hashB, Domains: []string{"www.dave.test", "new.test"}, Locale: "de", Owner: "res", Reseller: true, Suspended: true, Databases: []string{"dave_c"}, CreatedAt: time.Unix(5, 0)}
	must(t, d.PutAccount(ctx, repl))
	got, err = d.GetAccount(ctx, "dave")
	must(t, err)
	if !got.CreatedAt.Equal(created) {
		t.Errorf("CreatedAt changed on replace: %v -> %v", created, got.CreatedAt)
	}
	repl.CreatedAt = got.CreatedAt
	if fmt.Sprint(got) != fmt.Sprint(repl) {
		t.Errorf("after replace GetAccount =\n%+v, want\n%+v", got, repl)
	}
	if gen(t, d) != g+1 {
		t.Error("replace did not move the generation by one")
	}
	if o, err := d.DomainOwner(ctx, "dave.test"); !errors.Is(err, ErrNotFound) {
		t.Errorf("dropped domain still owned by %q (%v)", o, err)
	}
	// The dropped domain is free for another account.
	must(t, d.PutAccount(ctx, Account{User: "erin", Domains: []string{"dave.test"}}))

	// A new account keeps a given CreatedAt (imports).
	at := time.Date(2020, 5, 6, 7, 8, 9, 0, time.UTC)
	must(t, d.PutAccount(ctx, Account{User: "gina", CreatedAt: at}))
	must(t, d.PutMailbox(ctx, Mailbox{Address: "g@dave.test", Account: "erin", CreatedAt: at}))
	if g, _ := d.GetAccount(ctx, "gina"); !g.CreatedAt.Equal(at) {
		t.Errorf("new account CreatedAt = %v, want %v", g.CreatedAt, at)
	}
	if m, _ := d.GetMailbox(ctx, "g@dave.test"); !m.CreatedAt.Equal(at) {
		t.Errorf("new mailbox CreatedAt = %v, want %v", m.CreatedAt, at)
	}

	_, err = d.GetAccount(ctx, "nobody")
	checkErr(t, "GetAccount(nobody)", err, ErrNotFound, "account “nobody” does not exist")
}

func TestListAccounts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d, _ := newDir(t)
	list, err := d.ListAccounts(ctx)
	must(t, err)
	if len(list) != 0 {
		t.Fatalf("empty directory lists %v", list)
	}
	d = fixtureDir(t)
	list, err = d.ListAccounts(ctx)
	must(t, err)
	var users []string
	for _, a := range list {
		users = append(users, a.User)
		one, err := d.GetAccount(ctx, a.User)
		must(t, err)
		if fmt.Sprint(one) != fmt.Sprint(a) {
			t.Errorf("ListAccounts has %+v, GetAccount %+v", a, one)
		}
	}
	if !slices.Equal(users, []string{"alice", "bob", "res"}) {
		t.Errorf("ListAccounts users = %v", users)
	}
	if !slices.Equal(list[0].Domains, []string{"alice.test", "shop.alice.test"}) || !slices.Equal(list[0].Databases, []string{"alice_wp"}) {
		t.Errorf("alice = %+v", list[0])
	}
}

func TestSetAccountFields(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := fixtureDir(t)
	for _, tc := range []struct {
		name    string
		call    func() error
		want    error
		msg     string
		changes bool
		check   func(a Account) bool
	}{
		{"suspend", func() error { return d.SetAccountSuspended(ctx, "ALICE", true) }, nil, "", true, func(a Account) bool { return a.Suspended }},
		{"suspend again", func() error { return d.SetAccountSuspended(ctx, "alice", true) }, nil, "", false, func(a Account) bool { return a.Suspended }},
		{"unsuspend", func() error { return d.SetAccountSuspended(ctx, "alice", false) }, nil, "", true, func(a Account) bool { return !a.Suspended }},
		{"suspend unknown", func() error { return d.SetAccountSuspended(ctx, "nobody", true) }, ErrNotFound, "account “nobody” does not exist", false, nil},
		{"password", func() error { return d.SetAccountPasswordHash(ctx, "alice", hashB) }, nil, "", true, func(a Account) bool { return a.PasswordHash == hashB }},
		{"same password", func() error { return d.SetAccountPasswordHash(ctx, "alice", hashB) }, nil, "", false, func(a Account) bool { return a.PasswordHash == hashB }},
		{"lock", func() error { return d.SetAccountPasswordHash(ctx, "alice", "!"+hashB) }, nil, "", true, func(a Account) bool { return a.PasswordHash == "!"+hashB }},
		{"bad hash", func() error { return d.SetAccountPasswordHash(ctx, "alice", "x\ny") }, ErrInvalid, "not a valid crypt string", false, func(a Account) bool { return a.PasswordHash == "!"+hashB }},
		{"password unknown", func() error { return d.SetAccountPasswordHash(ctx, "nobody", hashA) }, ErrNotFound, "account “nobody” does not exist", false, nil},
	} {
		g := gen(t, d)
		checkErr(t, tc.name, tc.call(), tc.want, tc.msg)
		if moved := gen(t, d) != g; moved != tc.changes {
			t.Errorf("%s: generation moved = %v, want %v", tc.name, moved, tc.changes)
		}
		if tc.check != nil {
			a, err := d.GetAccount(ctx, "alice")
			must(t, err)
			if !tc.check(a) {
				t.Errorf("%s: account is %+v", tc.name, a)
			}
		}
	}
}

func TestRemoveAccount(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := fixtureDir(t)
	g := gen(t, d)
	checkErr(t, "remove unknown", d.RemoveAccount(ctx, "nobody"), ErrNotFound, "account “nobody” does not exist")
	checkErr(t, "remove reseller", d.RemoveAccount(ctx, "res"), ErrInvalid, "reseller “res” still owns accounts (“alice”)")
	if gen(t, d) != g {
		t.Error("failed removals moved the generation")
	}

	must(t, d.RemoveAccount(ctx, "ALICE"))
	if gen(t, d) != g+1 {
		t.Error("removal did not move the generation by one")
	}
	if _, err := d.GetAccount(ctx, "alice"); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetAccount after removal: %v", err)
	}
	if _, err := d.GetMailbox(ctx, "info@alice.test"); !errors.Is(err, ErrNotFound) {
		t.Errorf("mailbox survived its account: %v", err)
	}
	if _, err := d.TokenByHash(ctx, "alice", HashToken("ALICETOKEN0123456789ABCDEFGHIJKL")); !errors.Is(err, ErrNotFound) {
		t.Errorf("token survived its account: %v", err)
	}
	if _, err := d.DomainOwner(ctx, "shop.alice.test"); !errors.Is(err, ErrNotFound) {
		t.Errorf("domain survived its account: %v", err)
	}
	all, err := d.ListMailboxes(ctx, "")
	must(t, err)
	if len(all) != 0 {
		t.Errorf("mailboxes left: %v", all)
	}
	toks, err := d.ListTokens(ctx, "")
	must(t, err)
	if len(toks) != 1 || toks[0].User != "root" {
		t.Errorf("tokens left: %v", toks)
	}
	// A re-created account starts empty.
	must(t, d.PutAccount(ctx, Account{User: "alice", Domains: []string{"alice.test"}}))
	if mb, _ := d.ListMailboxes(ctx, "alice"); len(mb) != 0 {
		t.Errorf("re-created account has mailboxes %v", mb)
	}
	must(t, d.RemoveAccount(ctx, "alice"))

	// Now the reseller owns nobody else and can go, even though it owns itself.
	must(t, d.PutAccount(ctx, Account{User: "res", Domains: []string{"res.test"}, Reseller: true, Owner: "res"}))
	must(t, d.RemoveAccount(ctx, "res"))
}

func TestDomainOwner(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := fixtureDir(t)
	for _, tc := range []struct {
		domain, owner string
		want          error
	}{
		{"alice.test", "alice", nil},
		{"SHOP.Alice.Test", "alice", nil},
		{"bob.test", "bob", nil},
		{"nobody.test", "", ErrNotFound},
		{"", "", ErrNotFound},
	} {
		o, err := d.DomainOwner(ctx, tc.domain)
		checkErr(t, "DomainOwner("+tc.domain+")", err, tc.want, "")
		if o != tc.owner {
			t.Errorf("DomainOwner(%q) = %q, want %q", tc.domain, o, tc.owner)
		}
	}
}

func TestPutMailbox(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		m    Mailbox
		want error
		msg  string
		acct string // expected owner after success
	}{
		{"ok", Mailbox{Address: "sales@alice.test", Account: "alice", PasswordHash: hashA}, nil, "", "alice"},
		{"upper case", Mailbox{Address: "Sales@Shop.Alice.TEST", Account: "ALICE", PasswordHash: hashA}, nil, "", "alice"},
		{"account from domain", Mailbox{Address: "x@bob.test", PasswordHash: hashA}, nil, "", "bob"},
		{"empty hash", Mailbox{Address: "x@bob.test", Account: "bob"}, nil, "", "bob"},
		{"locked hash", Mailbox{Address: "x@bob.test", Account: "bob", PasswordHash: "!" + hashA}, nil, "", "bob"},
		{"no at", Mailbox{Address: "alice.test", Account: "alice"}, ErrInvalid, "“alice.test” is not a valid mailbox address", ""},
		{"bad local", Mailbox{Address: "a..b@alice.test", Account: "alice"}, ErrInvalid, "“a..b@alice.test” is not a valid mailbox address", ""},
		{"empty local", Mailbox{Address: "@alice.test", Account: "alice"}, ErrInvalid, "is not a valid mailbox address", ""},
		{"bad domain", Mailbox{Address: "a@alice", Account: "alice"}, ErrInvalid, "is not a valid mailbox address", ""},
		{"bad hash", Mailbox{Address: "a@alice.test", Account: "alice", PasswordHash: "a b"}, ErrInvalid, "password hash of “a@alice.test” is not a valid crypt string", ""},
		{"domain of other account", Mailbox{Address: "a@bob.test", Account: "alice"}, ErrInvalid, "domain “bob.test” is not a domain of account “alice”", ""},
		{"unknown domain", Mailbox{Address: "a@nowhere.test", Account: "alice"}, ErrInvalid, "domain “nowhere.test” is not a domain of account “alice”", ""},
		{"unknown domain, no account", Mailbox{Address: "a@nowhere.test"}, ErrInvalid, "domain “nowhere.test” does not belong to any account", ""},
		{"unknown account", Mailbox{Address: "a@alice.test", Account: "nobody"}, ErrNotFound, "account “nobody” does not exist", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := fixtureDir(t)
			g := gen(t, d)
			err := d.PutMailbox(ctx, tc.m)
			checkErr(t, "PutMailbox", err, tc.want, tc.msg)
			moved := gen(t, d) != g
			if moved != (err == nil) {
				t.Errorf("generation moved = %v with error %v", moved, err)
			}
			if err != nil {
				return
			}
			m, err := d.GetMailbox(ctx, tc.m.Address)
			must(t, err)
			if m.Address != strings.ToLower(tc.m.Address) || m.Account != tc.acct || m.PasswordHash != tc.m.PasswordHash || m.SuspendedLogin || m.CreatedAt.IsZero() {
				t.Errorf("GetMailbox = %+v", m)
			}
		})
	}
}

func TestMailboxLifecycle(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := fixtureDir(t)
	m, err := d.GetMailbox(ctx, "INFO@alice.test")
	must(t, err)
	created := m.CreatedAt

	// Replace keeps CreatedAt; an identical put is a no-op.
	g := gen(t, d)
	must(t, d.PutMailbox(ctx, Mailbox{Address: "info@alice.test", Account: "alice", PasswordHash: hashB}))
	if gen(t, d) != g {
		t.Error("identical PutMailbox moved the generation")
	}
	must(t, d.PutMailbox(ctx, Mailbox{Address: "info@alice.test", Account: "alice", PasswordHash: hashA, SuspendedLogin: true}))
	m, err = d.GetMailbox(ctx, "info@alice.test")
	must(t, err)
	if !m.CreatedAt.Equal(created) || m.PasswordHash != hashA || !m.SuspendedLogin {
		t.Errorf("after replace: %+v (created %v)", m, created)
	}

	must(t, d.PutMailbox(ctx, Mailbox{Address: "b@shop.alice.test", Account: "alice"}))
	must(t, d.PutAccount(ctx, Account{User: "frank", Domains: []string{"frank.test"}}))
	must(t, d.PutMailbox(ctx, Mailbox{Address: "a@frank.test", Account: "frank"}))

	for _, tc := range []struct {
		account string
		want    []string
		err     error
	}{
		{"", []string{"a@frank.test", "b@shop.alice.test", "info@alice.test"}, nil},
		{"alice", []string{"b@shop.alice.test", "info@alice.test"}, nil},
		{"FRANK", []string{"a@frank.test"}, nil},
		{"bob", nil, nil},
		{"nobody", nil, ErrNotFound},
	} {
		list, err := d.ListMailboxes(ctx, tc.account)
		checkErr(t, "ListMailboxes("+tc.account+")", err, tc.err, "")
		var got []string
		for _, m := range list {
			got = append(got, m.Address)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("ListMailboxes(%q) = %v, want %v", tc.account, got, tc.want)
		}
	}

	for _, tc := range []struct {
		name    string
		call    func() error
		want    error
		changes bool
	}{
		{"unsuspend", func() error { return d.SetMailboxSuspendedLogin(ctx, "INFO@alice.test", false) }, nil, true},
		{"unsuspend again", func() error { return d.SetMailboxSuspendedLogin(ctx, "info@alice.test", false) }, nil, false},
		{"suspend unknown", func() error { return d.SetMailboxSuspendedLogin(ctx, "x@alice.test", true) }, ErrNotFound, false},
		{"password", func() error { return d.SetMailboxPasswordHash(ctx, "info@alice.test", hashB) }, nil, true},
		{"same password", func() error { return d.SetMailboxPasswordHash(ctx, "info@alice.test", hashB) }, nil, false},
		{"bad password", func() error { return d.SetMailboxPasswordHash(ctx, "info@alice.test", "a\tb") }, ErrInvalid, false},
		{"password unknown", func() error { return d.SetMailboxPasswordHash(ctx, "x@alice.test", hashB) }, ErrNotFound, false},
		{"remove", func() error { return d.RemoveMailbox(ctx, "B@shop.alice.test") }, nil, true},
		{"remove again", func() error { return d.RemoveMailbox(ctx, "b@shop.alice.test") }, ErrNotFound, false},
	} {
		g := gen(t, d)
		checkErr(t, tc.name, tc.call(), tc.want, "")
		if moved := gen(t, d) != g; moved != tc.changes {
			t.Errorf("%s: generation moved = %v, want %v", tc.name, moved, tc.changes)
		}
	}
	m, err = d.GetMailbox(ctx, "info@alice.test")
	must(t, err)
	if m.SuspendedLogin || m.PasswordHash != hashB {
		t.Errorf("info@alice.test = %+v", m)
	}
	if _, err := d.GetMailbox(ctx, "b@shop.alice.test"); !errors.Is(err, ErrNotFound) {
		t.Errorf("removed mailbox: %v", err)
	}
}

func TestPutToken(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := HashToken(NewTokenSecret())
	for _, tc := range []struct {
		name string
		tok  Token
		want error
		msg  string
	}{
		{"ok", Token{User: "bob", Name: "deploy", Hash: h}, nil, ""},
		{"root", Token{User: "ROOT", Name: "deploy", Hash: h}, nil, ""},
		{"upper user", Token{User: "Bob", Name: "deploy", Hash: h}, nil, ""},
		{"with expiry and allow-list", Token{User: "bob", Name: "x", Hash: h, ExpiresAt: time.Now().Add(time.Hour),
			AllowIPs: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24"), netip.MustParsePrefix("2001:db8::/32")}}, nil, ""},
		{"unknown user", Token{User: "nobody", Name: "x", Hash: h}, ErrNotFound, "account “nobody” does not exist"},
		{"bad name", Token{User: "bob", Name: "a b", Hash: h}, ErrInvalid, "“a b” is not a valid token name"},
		{"empty name", Token{User: "bob", Name: "", Hash: h}, ErrInvalid, "is not a valid token name"},
		{"short hash", Token{User: "bob", Name: "x", Hash: h[:31]}, ErrInvalid, "hash of token “x” is not a SHA-256"},
		{"bad prefix", Token{User: "bob", Name: "x", Hash: h, AllowIPs: []netip.Prefix{{}}}, ErrInvalid, "invalid address prefix"},
		{"same secret as another token", Token{User: "alice", Name: "other", Hash: HashToken("ALICETOKEN0123456789ABCDEFGHIJKL")}, ErrExists, "token “ci” of “alice” has the same secret"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := fixtureDir(t)
			g := gen(t, d)
			err := d.PutToken(ctx, tc.tok)
			checkErr(t, "PutToken", err, tc.want, tc.msg)
			if moved := gen(t, d) != g; moved != (err == nil) {
				t.Errorf("generation moved = %v with error %v", moved, err)
			}
			if err != nil {
				return
			}
			got, err := d.TokenByHash(ctx, tc.tok.User, tc.tok.Hash)
			must(t, err)
			if got.User != strings.ToLower(tc.tok.User) || got.Name != tc.tok.Name || !bytes.Equal(got.Hash, tc.tok.Hash) ||
				!got.ExpiresAt.Equal(tc.tok.ExpiresAt) || fmt.Sprint(got.AllowIPs) != fmt.Sprint(tc.tok.AllowIPs) || got.CreatedAt.IsZero() {
				t.Errorf("TokenByHash = %+v, put %+v", got, tc.tok)
			}
			// Another user's token with the same secret is a different token.
			if _, err := d.TokenByHash(ctx, "alice", tc.tok.Hash); !errors.Is(err, ErrNotFound) {
				t.Errorf("TokenByHash found the token under alice: %v", err)
			}
		})
	}
}

func TestTokenLifecycle(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := fixtureDir(t)
	old, err := d.TokenByHash(ctx, "alice", HashToken("ALICETOKEN0123456789ABCDEFGHIJKL"))
	must(t, err)

	// Identical put: no change. Replacing the secret keeps CreatedAt.
	g := gen(t, d)
	must(t, d.PutToken(ctx, Token{User: "alice", Name: "ci", Hash: HashToken("ALICETOKEN0123456789ABCDEFGHIJKL")}))
	if gen(t, d) != g {
		t.Error("identical PutToken moved the generation")
	}
	newSecret := NewTokenSecret()
	exp := time.Date(2030, 1, 2, 3, 4, 5, 6, time.UTC)
	must(t, d.PutToken(ctx, Token{User: "alice", Name: "ci", Hash: HashToken(newSecret), ExpiresAt: exp}))
	if _, err := d.TokenByHash(ctx, "alice", HashToken("ALICETOKEN0123456789ABCDEFGHIJKL")); !errors.Is(err, ErrNotFound) {
		t.Errorf("old secret still works: %v", err)
	}
	tok, err := d.TokenByHash(ctx, "ALICE", HashToken(newSecret))
	must(t, err)
	if !tok.CreatedAt.Equal(old.CreatedAt) || !tok.ExpiresAt.Equal(exp) {
		t.Errorf("replaced token = %+v, old created %v", tok, old.CreatedAt)
	}
	must(t, d.PutToken(ctx, Token{User: "alice", Name: "b", Hash: HashToken(NewTokenSecret())}))
	must(t, d.PutToken(ctx, Token{User: "bob", Name: "a", Hash: HashToken(NewTokenSecret())}))

	for _, tc := range []struct {
		user string
		want []string
		err  error
	}{
		{"", []string{"alice/b", "alice/ci", "bob/a", "root/billing"}, nil},
		{"alice", []string{"alice/b", "alice/ci"}, nil},
		{"root", []string{"root/billing"}, nil},
		{"res", nil, nil},
		{"nobody", nil, ErrNotFound},
	} {
		list, err := d.ListTokens(ctx, tc.user)
		checkErr(t, "ListTokens("+tc.user+")", err, tc.err, "")
		var got []string
		for _, tk := range list {
			got = append(got, tk.User+"/"+tk.Name)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("ListTokens(%q) = %v, want %v", tc.user, got, tc.want)
		}
	}

	g = gen(t, d)
	checkErr(t, "revoke unknown", d.RevokeToken(ctx, "alice", "nope"), ErrNotFound, "“alice” has no token “nope”")
	checkErr(t, "revoke other user's", d.RevokeToken(ctx, "bob", "ci"), ErrNotFound, "")
	if gen(t, d) != g {
		t.Error("failed revocations moved the generation")
	}
	must(t, d.RevokeToken(ctx, "Alice", "ci"))
	if gen(t, d) != g+1 {
		t.Error("revocation did not move the generation by one")
	}
	if _, err := d.TokenByHash(ctx, "alice", HashToken(newSecret)); !errors.Is(err, ErrNotFound) {
		t.Errorf("revoked token still found: %v", err)
	}
	if _, err := d.TokenByHash(ctx, "alice", nil); !errors.Is(err, ErrNotFound) {
		t.Errorf("nil hash: %v", err)
	}
}

// TestTwoProcesses simulates the CLI and a running server: two *sql.DB
// handles on one file see each other's changes, and the generation that the
// server watches moves with every change made by the other.
func TestTwoProcesses(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	server, path := newDir(t)
	cli, err := NewSQLite(ctx, openDB(t, path))
	must(t, err)

	g := gen(t, server)
	steps := []struct {
		name string
		do   func() error
		see  func() bool
	}{
		{"account add", func() error {
			return cli.PutAccount(ctx, Account{User: "alice", PasswordHash: hashA, Domains: []string{"alice.test"}})
		}, func() bool { a, err := server.GetAccount(ctx, "alice"); return err == nil && a.PasswordHash == hashA }},
		{"account passwd", func() error { return cli.SetAccountPasswordHash(ctx, "alice", hashB) },
			func() bool { a, _ := server.GetAccount(ctx, "alice"); return a.PasswordHash == hashB }},
		{"account suspend", func() error { return cli.SetAccountSuspended(ctx, "alice", true) },
			func() bool { a, _ := server.GetAccount(ctx, "alice"); return a.Suspended }},
		{"mailbox add", func() error {
			return cli.PutMailbox(ctx, Mailbox{Address: "info@alice.test", Account: "alice", PasswordHash: hashA})
		}, func() bool { _, err := server.GetMailbox(ctx, "info@alice.test"); return err == nil }},
		{"mailbox suspend", func() error { return cli.SetMailboxSuspendedLogin(ctx, "info@alice.test", true) },
			func() bool { m, _ := server.GetMailbox(ctx, "info@alice.test"); return m.SuspendedLogin }},
		{"token create", func() error {
			return cli.PutToken(ctx, Token{User: "alice", Name: "ci", Hash: HashToken("ALICETOKEN0123456789ABCDEFGHIJKL")})
		}, func() bool {
			_, err := server.TokenByHash(ctx, "alice", HashToken("ALICETOKEN0123456789ABCDEFGHIJKL"))
			return err == nil
		}},
		{"token revoke", func() error { return cli.RevokeToken(ctx, "alice", "ci") }, func() bool {
			_, err := server.TokenByHash(ctx, "alice", HashToken("ALICETOKEN0123456789ABCDEFGHIJKL"))
			return errors.Is(err, ErrNotFound)
		}},
		{"root passwd", func() error { return cli.SetRootPasswordHash(ctx, hashA) },
			func() bool { h, _ := server.RootPasswordHash(ctx); return h == hashA }},
		{"account remove", func() error { return cli.RemoveAccount(ctx, "alice") }, func() bool {
			_, err := server.GetMailbox(ctx, "info@alice.test")
			return errors.Is(err, ErrNotFound)
		}},
	}
	for _, s := range steps {
		must(t, s.do())
		if !s.see() {
			t.Errorf("%s: the other handle does not see the change", s.name)
		}
		ng := gen(t, server)
		if ng <= g {
			t.Errorf("%s: generation seen by the server did not move (%d -> %d)", s.name, g, ng)
		}
		if cg := gen(t, cli); cg != ng {
			t.Errorf("%s: handles disagree on the generation: %d vs %d", s.name, cg, ng)
		}
		g = ng
	}
}

// TestConcurrentWriters hammers one file from two handles at once; every
// call must succeed (busy waits, no lost updates) and every change count
// once in the generation.
func TestConcurrentWriters(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a, path := newDir(t)
	b, err := NewSQLite(ctx, openDB(t, path))
	must(t, err)
	must(t, a.PutAccount(ctx, Account{User: "alice", Domains: []string{"alice.test"}}))
	g0 := gen(t, a)

	const workers, each = 4, 10
	var wg sync.WaitGroup
	errs := make(chan error, workers*each*2)
	for w := range workers {
		d := a
		if w%2 == 1 {
			d = b
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				addr := fmt.Sprintf("w%di%d@alice.test", w, i)
				if err := d.PutMailbox(ctx, Mailbox{Address: addr, Account: "alice", PasswordHash: hashA}); err != nil {
					errs <- err
				}
				if err := d.PutToken(ctx, Token{User: "alice", Name: fmt.Sprintf("w%di%d", w, i), Hash: HashToken(NewTokenSecret())}); err != nil {
					errs <- err
				}
				if _, err := d.Generation(ctx); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	mb, err := b.ListMailboxes(ctx, "alice")
	must(t, err)
	toks, err := a.ListTokens(ctx, "alice")
	must(t, err)
	if len(mb) != workers*each || len(toks) != workers*each {
		t.Errorf("%d mailboxes and %d tokens, want %d each", len(mb), len(toks), workers*each)
	}
	if g := gen(t, b); g != g0+2*workers*each {
		t.Errorf("generation %d -> %d, want +%d", g0, g, 2*workers*each)
	}
}

func TestCanceledContext(t *testing.T) {
	t.Parallel()
	d := fixtureDir(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := d.PutAccount(ctx, Account{User: "zed"}); err == nil {
		t.Error("PutAccount with a canceled context succeeded")
	}
	if _, err := d.GetAccount(context.Background(), "zed"); !errors.Is(err, ErrNotFound) {
		t.Errorf("zed exists after a canceled put: %v", err)
	}
}
