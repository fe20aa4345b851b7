// Package directorytest is the conformance suite for directory.Directory:
// the SQLite directory and the PostgreSQL one run the same tests, so that
// the rules and messages written on directory.Directory and
// directory.SQLite hold for every backend.
//
// A backend's test calls Run with a function returning a fresh, empty
// directory (it may be called from parallel subtests and arranges its own
// cleanup), and RunShared with one returning two handles on the same,
// initially empty, store (the server and the CLI, or two nodes).
package directorytest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uapid/uapid/internal/directory"
)

const hashA = "$6$3SEXnFBYReeZKw/0$LylmlhH1QR/8ptqJOR/4nmv2ZeSSm2Ot96M0H0UBCVVS7tPHEbhSOEfMRVnG9FDEGvCDknBMghfiQ8W1AGc4j/"
const hashB = "$1$mPjYXhV7$OSsxhPZ0Y9LJe2QVo.9qL/"

type suite struct {
	newDir func(t testing.TB) directory.Directory
}

type sharedSuite struct {
	newPair func(t testing.TB) (a, b directory.Directory)
}

// Run runs the suite against the directories newDir returns.
func Run(t *testing.T, newDir func(t testing.TB) directory.Directory) {
	s := suite{newDir}
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T)
	}{
		{"RootPasswordHash", s.testRootPasswordHash},
		{"PutAccountValidation", s.testPutAccountValidation},
		{"PutGetAccount", s.testPutGetAccount},
		{"ListAccounts", s.testListAccounts},
		{"SetAccountFields", s.testSetAccountFields},
		{"RemoveAccount", s.testRemoveAccount},
		{"DomainOwner", s.testDomainOwner},
		{"PutMailbox", s.testPutMailbox},
		{"MailboxLifecycle", s.testMailboxLifecycle},
		{"PutToken", s.testPutToken},
		{"TokenLifecycle", s.testTokenLifecycle},
		{"CanceledContext", s.testCanceledContext},
	} {
		t.Run(tc.name, tc.fn)
	}
}

// RunShared runs the tests that need two handles on one store.
func RunShared(t *testing.T, newPair func(t testing.TB) (a, b directory.Directory)) {
	s := sharedSuite{newPair}
	t.Run("TwoProcesses", s.testTwoProcesses)
	t.Run("ConcurrentWriters", s.testConcurrentWriters)
}

func gen(t testing.TB, d directory.Directory) int64 {
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
func (s suite) fixtureDir(t testing.TB) directory.Directory {
	t.Helper()
	ctx := context.Background()
	d := s.newDir(t)
	must(t, d.PutAccount(ctx, directory.Account{User: "res", PasswordHash: hashA, Domains: []string{"res.test"}, Reseller: true}))
	must(t, d.PutAccount(ctx, directory.Account{User: "alice", PasswordHash: hashA, Domains: []string{"alice.test", "shop.alice.test"}, Owner: "res", Databases: []string{"alice_wp"}}))
	must(t, d.PutAccount(ctx, directory.Account{User: "bob", PasswordHash: hashB, Domains: []string{"bob.test"}}))
	must(t, d.PutMailbox(ctx, directory.Mailbox{Address: "info@alice.test", Account: "alice", PasswordHash: hashB}))
	must(t, d.PutToken(ctx, directory.Token{User: "alice", Name: "ci", Hash: directory.HashToken("ALICETOKEN0123456789ABCDEFGHIJKL")}))
	must(t, d.PutToken(ctx, directory.Token{User: "root", Name: "billing", Hash: directory.HashToken("ROOTTOKEN0123456789ABCDEFGHIJKLM")}))
	return d
}

func (s suite) testRootPasswordHash(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := s.newDir(t)
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
	checkErr(t, "bad hash", d.SetRootPasswordHash(ctx, "a:b"), directory.ErrInvalid, "not a valid crypt string")
	must(t, d.SetRootPasswordHash(ctx, ""))
	if h, _ := d.RootPasswordHash(ctx); h != "" {
		t.Errorf("root hash = %q after clearing", h)
	}
}

func (s suite) testPutAccountValidation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	base := func() directory.Account {
		return directory.Account{User: "carol", PasswordHash: hashA, Domains: []string{"carol.test"}}
	}
	for _, tc := range []struct {
		name string
		edit func(a *directory.Account)
		want error
		msg  string
	}{
		{"ok", func(a *directory.Account) {}, nil, ""},
		{"upper-case user is lower-cased", func(a *directory.Account) { a.User = "Carol" }, nil, ""},
		{"empty user", func(a *directory.Account) { a.User = "" }, directory.ErrInvalid, "“” is not a valid user name"},
		{"root", func(a *directory.Account) { a.User = "root" }, directory.ErrInvalid, "“root” is the superuser"},
		{"ROOT", func(a *directory.Account) { a.User = "ROOT" }, directory.ErrInvalid, "“root” is the superuser"},
		{"digit first", func(a *directory.Account) { a.User = "1carol" }, directory.ErrInvalid, "“1carol” is not a valid user name"},
		{"too long", func(a *directory.Account) { a.User = "abcdefghijklmnopq" }, directory.ErrInvalid, "is not a valid user name"},
		{"underscore", func(a *directory.Account) { a.User = "ca_rol" }, directory.ErrInvalid, "is not a valid user name"},
		{"bad hash", func(a *directory.Account) { a.PasswordHash = "has space" }, directory.ErrInvalid, "password hash of “carol” is not a valid crypt string"},
		{"empty hash", func(a *directory.Account) { a.PasswordHash = "" }, nil, ""},
		{"bad domain", func(a *directory.Account) { a.Domains = []string{"carol"} }, directory.ErrInvalid, "“carol” is not a valid domain name"},
		{"bad domain 2", func(a *directory.Account) { a.Domains = []string{"carol.test", "x..test"} }, directory.ErrInvalid, "“x..test” is not a valid domain name"},
		{"domain twice", func(a *directory.Account) { a.Domains = []string{"carol.test", "CAROL.test"} }, directory.ErrInvalid, "domain “carol.test” is listed twice"},
		{"domain of another account", func(a *directory.Account) { a.Domains = []string{"carol.test", "Bob.Test"} }, directory.ErrExists, "domain “bob.test” belongs to another account"},
		{"no domains", func(a *directory.Account) { a.Domains = nil }, nil, ""},
		{"bad locale", func(a *directory.Account) { a.Locale = "en-US" }, directory.ErrInvalid, "“en-US” is not a valid locale name"},
		{"locale", func(a *directory.Account) { a.Locale = "pt_br" }, nil, ""},
		{"owner root", func(a *directory.Account) { a.Owner = "root" }, nil, ""},
		{"owner reseller", func(a *directory.Account) { a.Owner = "RES" }, nil, ""},
		{"owner unknown", func(a *directory.Account) { a.Owner = "nobody" }, directory.ErrInvalid, "owner “nobody” does not exist"},
		{"owner not reseller", func(a *directory.Account) { a.Owner = "bob" }, directory.ErrInvalid, "owner “bob” is not a reseller"},
		{"owns itself without being reseller", func(a *directory.Account) { a.Owner = "carol" }, directory.ErrInvalid, "can only own itself if it is a reseller"},
		{"reseller owns itself", func(a *directory.Account) { a.Owner = "carol"; a.Reseller = true }, nil, ""},
		{"database", func(a *directory.Account) { a.Databases = []string{"carol_wp", "carol_shop"} }, nil, ""},
		{"database without prefix", func(a *directory.Account) { a.Databases = []string{"wp"} }, directory.ErrInvalid, "“wp” is not a valid database name for “carol”"},
		{"database twice", func(a *directory.Account) { a.Databases = []string{"carol_wp", "carol_wp"} }, directory.ErrInvalid, "database “carol_wp” is listed twice"},
		{"demote reseller owning accounts", func(a *directory.Account) { a.User = "res"; a.Domains = []string{"res.test"} }, directory.ErrInvalid, "“res” cannot stop being a reseller while it owns accounts (“alice”)"},
		{"drop domain with mailboxes", func(a *directory.Account) {
			a.User, a.Owner, a.Domains = "alice", "res", []string{"shop.alice.test"}
		}, directory.ErrInvalid, "domain “alice.test” cannot be removed from “alice” while it has mailboxes"},
		{"drop domain without mailboxes", func(a *directory.Account) {
			a.User, a.Owner, a.Domains = "alice", "res", []string{"alice.test"}
		}, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := s.fixtureDir(t)
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

func (s suite) testPutGetAccount(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := s.fixtureDir(t)
	a := directory.Account{User: "Dave", PasswordHash: hashA, Domains: []string{"Dave.TEST", "www.dave.test"}, Databases: []string{"dave_a", "dave_b"}}
	must(t, d.PutAccount(ctx, a))
	got, err := d.GetAccount(ctx, "DAVE")
	must(t, err)
	want := directory.Account{User: "dave", PasswordHash: hashA, Domains: []string{"dave.test", "www.dave.test"}, Locale: "en", Owner: "root", Databases: []string{"dave_a", "dave_b"}}
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
	repl := directory.Account{User: "dave", PasswordHash: hashB, Domains: []string{"www.dave.test", "new.test"}, Locale: "de", Owner: "res", Reseller: true, Suspended: true, Databases: []string{"dave_c"}, CreatedAt: time.Unix(5, 0)}
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
	if o, err := d.DomainOwner(ctx, "dave.test"); !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("dropped domain still owned by %q (%v)", o, err)
	}
	// The dropped domain is free for another account.
	must(t, d.PutAccount(ctx, directory.Account{User: "erin", Domains: []string{"dave.test"}}))

	// A new account keeps a given CreatedAt (imports).
	at := time.Date(2020, 5, 6, 7, 8, 9, 0, time.UTC)
	must(t, d.PutAccount(ctx, directory.Account{User: "gina", CreatedAt: at}))
	must(t, d.PutMailbox(ctx, directory.Mailbox{Address: "g@dave.test", Account: "erin", CreatedAt: at}))
	if g, _ := d.GetAccount(ctx, "gina"); !g.CreatedAt.Equal(at) {
		t.Errorf("new account CreatedAt = %v, want %v", g.CreatedAt, at)
	}
	if m, _ := d.GetMailbox(ctx, "g@dave.test"); !m.CreatedAt.Equal(at) {
		t.Errorf("new mailbox CreatedAt = %v, want %v", m.CreatedAt, at)
	}

	_, err = d.GetAccount(ctx, "nobody")
	checkErr(t, "GetAccount(nobody)", err, directory.ErrNotFound, "account “nobody” does not exist")
}

func (s suite) testListAccounts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := s.newDir(t)
	list, err := d.ListAccounts(ctx)
	must(t, err)
	if len(list) != 0 {
		t.Fatalf("empty directory lists %v", list)
	}
	d = s.fixtureDir(t)
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

func (s suite) testSetAccountFields(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := s.fixtureDir(t)
	for _, tc := range []struct {
		name    string
		call    func() error
		want    error
		msg     string
		changes bool
		check   func(a directory.Account) bool
	}{
		{"suspend", func() error { return d.SetAccountSuspended(ctx, "ALICE", true) }, nil, "", true, func(a directory.Account) bool { return a.Suspended }},
		{"suspend again", func() error { return d.SetAccountSuspended(ctx, "alice", true) }, nil, "", false, func(a directory.Account) bool { return a.Suspended }},
		{"unsuspend", func() error { return d.SetAccountSuspended(ctx, "alice", false) }, nil, "", true, func(a directory.Account) bool { return !a.Suspended }},
		{"suspend unknown", func() error { return d.SetAccountSuspended(ctx, "nobody", true) }, directory.ErrNotFound, "account “nobody” does not exist", false, nil},
		{"password", func() error { return d.SetAccountPasswordHash(ctx, "alice", hashB) }, nil, "", true, func(a directory.Account) bool { return a.PasswordHash == hashB }},
		{"same password", func() error { return d.SetAccountPasswordHash(ctx, "alice", hashB) }, nil, "", false, func(a directory.Account) bool { return a.PasswordHash == hashB }},
		{"lock", func() error { return d.SetAccountPasswordHash(ctx, "alice", "!"+hashB) }, nil, "", true, func(a directory.Account) bool { return a.PasswordHash == "!"+hashB }},
		{"bad hash", func() error { return d.SetAccountPasswordHash(ctx, "alice", "x\ny") }, directory.ErrInvalid, "not a valid crypt string", false, func(a directory.Account) bool { return a.PasswordHash == "!"+hashB }},
		{"password unknown", func() error { return d.SetAccountPasswordHash(ctx, "nobody", hashA) }, directory.ErrNotFound, "account “nobody” does not exist", false, nil},
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

func (s suite) testRemoveAccount(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := s.fixtureDir(t)
	g := gen(t, d)
	checkErr(t, "remove unknown", d.RemoveAccount(ctx, "nobody"), directory.ErrNotFound, "account “nobody” does not exist")
	checkErr(t, "remove reseller", d.RemoveAccount(ctx, "res"), directory.ErrInvalid, "reseller “res” still owns accounts (“alice”)")
	if gen(t, d) != g {
		t.Error("failed removals moved the generation")
	}

	must(t, d.RemoveAccount(ctx, "ALICE"))
	if gen(t, d) != g+1 {
		t.Error("removal did not move the generation by one")
	}
	if _, err := d.GetAccount(ctx, "alice"); !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("GetAccount after removal: %v", err)
	}
	if _, err := d.GetMailbox(ctx, "info@alice.test"); !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("mailbox survived its account: %v", err)
	}
	if _, err := d.TokenByHash(ctx, "alice", directory.HashToken("ALICETOKEN0123456789ABCDEFGHIJKL")); !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("token survived its account: %v", err)
	}
	if _, err := d.DomainOwner(ctx, "shop.alice.test"); !errors.Is(err, directory.ErrNotFound) {
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
	must(t, d.PutAccount(ctx, directory.Account{User: "alice", Domains: []string{"alice.test"}}))
	if mb, _ := d.ListMailboxes(ctx, "alice"); len(mb) != 0 {
		t.Errorf("re-created account has mailboxes %v", mb)
	}
	must(t, d.RemoveAccount(ctx, "alice"))

	// Now the reseller owns nobody else and can go, even though it owns itself.
	must(t, d.PutAccount(ctx, directory.Account{User: "res", Domains: []string{"res.test"}, Reseller: true, Owner: "res"}))
	must(t, d.RemoveAccount(ctx, "res"))
}

func (s suite) testDomainOwner(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := s.fixtureDir(t)
	for _, tc := range []struct {
		domain, owner string
		want          error
	}{
		{"alice.test", "alice", nil},
		{"SHOP.Alice.Test", "alice", nil},
		{"bob.test", "bob", nil},
		{"nobody.test", "", directory.ErrNotFound},
		{"", "", directory.ErrNotFound},
	} {
		o, err := d.DomainOwner(ctx, tc.domain)
		checkErr(t, "DomainOwner("+tc.domain+")", err, tc.want, "")
		if o != tc.owner {
			t.Errorf("DomainOwner(%q) = %q, want %q", tc.domain, o, tc.owner)
		}
	}
}

func (s suite) testPutMailbox(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		m    directory.Mailbox
		want error
		msg  string
		acct string // expected owner after success
	}{
		{"ok", directory.Mailbox{Address: "sales@alice.test", Account: "alice", PasswordHash: hashA}, nil, "", "alice"},
		{"upper case", directory.Mailbox{Address: "Sales@Shop.Alice.TEST", Account: "ALICE", PasswordHash: hashA}, nil, "", "alice"},
		{"account from domain", directory.Mailbox{Address: "x@bob.test", PasswordHash: hashA}, nil, "", "bob"},
		{"empty hash", directory.Mailbox{Address: "x@bob.test", Account: "bob"}, nil, "", "bob"},
		{"locked hash", directory.Mailbox{Address: "x@bob.test", Account: "bob", PasswordHash: "!" + hashA}, nil, "", "bob"},
		{"no at", directory.Mailbox{Address: "alice.test", Account: "alice"}, directory.ErrInvalid, "“alice.test” is not a valid mailbox address", ""},
		{"bad local", directory.Mailbox{Address: "a..b@alice.test", Account: "alice"}, directory.ErrInvalid, "“a..b@alice.test” is not a valid mailbox address", ""},
		{"empty local", directory.Mailbox{Address: "@alice.test", Account: "alice"}, directory.ErrInvalid, "is not a valid mailbox address", ""},
		{"bad domain", directory.Mailbox{Address: "a@alice", Account: "alice"}, directory.ErrInvalid, "is not a valid mailbox address", ""},
		{"bad hash", directory.Mailbox{Address: "a@alice.test", Account: "alice", PasswordHash: "a b"}, directory.ErrInvalid, "password hash of “a@alice.test” is not a valid crypt string", ""},
		{"domain of other account", directory.Mailbox{Address: "a@bob.test", Account: "alice"}, directory.ErrInvalid, "domain “bob.test” is not a domain of account “alice”", ""},
		{"unknown domain", directory.Mailbox{Address: "a@nowhere.test", Account: "alice"}, directory.ErrInvalid, "domain “nowhere.test” is not a domain of account “alice”", ""},
		{"unknown domain, no account", directory.Mailbox{Address: "a@nowhere.test"}, directory.ErrInvalid, "domain “nowhere.test” does not belong to any account", ""},
		{"unknown account", directory.Mailbox{Address: "a@alice.test", Account: "nobody"}, directory.ErrNotFound, "account “nobody” does not exist", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := s.fixtureDir(t)
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

func (s suite) testMailboxLifecycle(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := s.fixtureDir(t)
	m, err := d.GetMailbox(ctx, "INFO@alice.test")
	must(t, err)
	created := m.CreatedAt

	// Replace keeps CreatedAt; an identical put is a no-op.
	g := gen(t, d)
	must(t, d.PutMailbox(ctx, directory.Mailbox{Address: "info@alice.test", Account: "alice", PasswordHash: hashB}))
	if gen(t, d) != g {
		t.Error("identical PutMailbox moved the generation")
	}
	must(t, d.PutMailbox(ctx, directory.Mailbox{Address: "info@alice.test", Account: "alice", PasswordHash: hashA, SuspendedLogin: true}))
	m, err = d.GetMailbox(ctx, "info@alice.test")
	must(t, err)
	if !m.CreatedAt.Equal(created) || m.PasswordHash != hashA || !m.SuspendedLogin {
		t.Errorf("after replace: %+v (created %v)", m, created)
	}

	must(t, d.PutMailbox(ctx, directory.Mailbox{Address: "b@shop.alice.test", Account: "alice"}))
	must(t, d.PutAccount(ctx, directory.Account{User: "frank", Domains: []string{"frank.test"}}))
	must(t, d.PutMailbox(ctx, directory.Mailbox{Address: "a@frank.test", Account: "frank"}))

	for _, tc := range []struct {
		account string
		want    []string
		err     error
	}{
		{"", []string{"a@frank.test", "b@shop.alice.test", "info@alice.test"}, nil},
		{"alice", []string{"b@shop.alice.test", "info@alice.test"}, nil},
		{"FRANK", []string{"a@frank.test"}, nil},
		{"bob", nil, nil},
		{"nobody", nil, directory.ErrNotFound},
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
		{"suspend unknown", func() error { return d.SetMailboxSuspendedLogin(ctx, "x@alice.test", true) }, directory.ErrNotFound, false},
		{"password", func() error { return d.SetMailboxPasswordHash(ctx, "info@alice.test", hashB) }, nil, true},
		{"same password", func() error { return d.SetMailboxPasswordHash(ctx, "info@alice.test", hashB) }, nil, false},
		{"bad password", func() error { return d.SetMailboxPasswordHash(ctx, "info@alice.test", "a\tb") }, directory.ErrInvalid, false},
		{"password unknown", func() error { return d.SetMailboxPasswordHash(ctx, "x@alice.test", hashB) }, directory.ErrNotFound, false},
		{"remove", func() error { return d.RemoveMailbox(ctx, "B@shop.alice.test") }, nil, true},
		{"remove again", func() error { return d.RemoveMailbox(ctx, "b@shop.alice.test") }, directory.ErrNotFound, false},
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
	if _, err := d.GetMailbox(ctx, "b@shop.alice.test"); !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("removed mailbox: %v", err)
	}
}

func (s suite) testPutToken(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := directory.HashToken(directory.NewTokenSecret())
	for _, tc := range []struct {
		name string
		tok  directory.Token
		want error
		msg  string
	}{
		{"ok", directory.Token{User: "bob", Name: "deploy", Hash: h}, nil, ""},
		{"root", directory.Token{User: "ROOT", Name: "deploy", Hash: h}, nil, ""},
		{"upper user", directory.Token{User: "Bob", Name: "deploy", Hash: h}, nil, ""},
		{"with expiry and allow-list", directory.Token{User: "bob", Name: "x", Hash: h, ExpiresAt: time.Now().Add(time.Hour),
			AllowIPs: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24"), netip.MustParsePrefix("2001:db8::/32")}}, nil, ""},
		{"unknown user", directory.Token{User: "nobody", Name: "x", Hash: h}, directory.ErrNotFound, "account “nobody” does not exist"},
		{"bad name", directory.Token{User: "bob", Name: "a b", Hash: h}, directory.ErrInvalid, "“a b” is not a valid token name"},
		{"empty name", directory.Token{User: "bob", Name: "", Hash: h}, directory.ErrInvalid, "is not a valid token name"},
		{"short hash", directory.Token{User: "bob", Name: "x", Hash: h[:31]}, directory.ErrInvalid, "hash of token “x” is not a SHA-256"},
		{"bad prefix", directory.Token{User: "bob", Name: "x", Hash: h, AllowIPs: []netip.Prefix{{}}}, directory.ErrInvalid, "invalid address prefix"},
		{"same secret as another token", directory.Token{User: "alice", Name: "other", Hash: directory.HashToken("ALICETOKEN0123456789ABCDEFGHIJKL")}, directory.ErrExists, "token “ci” of “alice” has the same secret"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := s.fixtureDir(t)
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
			if _, err := d.TokenByHash(ctx, "alice", tc.tok.Hash); !errors.Is(err, directory.ErrNotFound) {
				t.Errorf("TokenByHash found the token under alice: %v", err)
			}
		})
	}
}

func (s suite) testTokenLifecycle(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := s.fixtureDir(t)
	old, err := d.TokenByHash(ctx, "alice", directory.HashToken("ALICETOKEN0123456789ABCDEFGHIJKL"))
	must(t, err)

	// Identical put: no change. Replacing the secret keeps CreatedAt.
	g := gen(t, d)
	must(t, d.PutToken(ctx, directory.Token{User: "alice", Name: "ci", Hash: directory.HashToken("ALICETOKEN0123456789ABCDEFGHIJKL")}))
	if gen(t, d) != g {
		t.Error("identical PutToken moved the generation")
	}
	newSecret := directory.NewTokenSecret()
	exp := time.Date(2030, 1, 2, 3, 4, 5, 6, time.UTC)
	must(t, d.PutToken(ctx, directory.Token{User: "alice", Name: "ci", Hash: directory.HashToken(newSecret), ExpiresAt: exp}))
	if _, err := d.TokenByHash(ctx, "alice", directory.HashToken("ALICETOKEN0123456789ABCDEFGHIJKL")); !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("old secret still works: %v", err)
	}
	tok, err := d.TokenByHash(ctx, "ALICE", directory.HashToken(newSecret))
	must(t, err)
	if !tok.CreatedAt.Equal(old.CreatedAt) || !tok.ExpiresAt.Equal(exp) {
		t.Errorf("replaced token = %+v, old created %v", tok, old.CreatedAt)
	}
	must(t, d.PutToken(ctx, directory.Token{User: "alice", Name: "b", Hash: directory.HashToken(directory.NewTokenSecret())}))
	must(t, d.PutToken(ctx, directory.Token{User: "bob", Name: "a", Hash: directory.HashToken(directory.NewTokenSecret())}))

	for _, tc := range []struct {
		user string
		want []string
		err  error
	}{
		{"", []string{"alice/b", "alice/ci", "bob/a", "root/billing"}, nil},
		{"alice", []string{"alice/b", "alice/ci"}, nil},
		{"root", []string{"root/billing"}, nil},
		{"res", nil, nil},
		{"nobody", nil, directory.ErrNotFound},
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
	checkErr(t, "revoke unknown", d.RevokeToken(ctx, "alice", "nope"), directory.ErrNotFound, "“alice” has no token “nope”")
	checkErr(t, "revoke other user's", d.RevokeToken(ctx, "bob", "ci"), directory.ErrNotFound, "")
	if gen(t, d) != g {
		t.Error("failed revocations moved the generation")
	}
	must(t, d.RevokeToken(ctx, "Alice", "ci"))
	if gen(t, d) != g+1 {
		t.Error("revocation did not move the generation by one")
	}
	if _, err := d.TokenByHash(ctx, "alice", directory.HashToken(newSecret)); !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("revoked token still found: %v", err)
	}
	if _, err := d.TokenByHash(ctx, "alice", nil); !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("nil hash: %v", err)
	}
}

func (s suite) testCanceledContext(t *testing.T) {
	t.Parallel()
	d := s.fixtureDir(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := d.PutAccount(ctx, directory.Account{User: "zed"}); err == nil {
		t.Error("PutAccount with a canceled context succeeded")
	}
	if _, err := d.GetAccount(context.Background(), "zed"); !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("zed exists after a canceled put: %v", err)
	}
}

// testTwoProcesses simulates the CLI and a running server: two handles on one
// store see each other's changes, and the generation that the
// server watches moves with every change made by the other.
func (s sharedSuite) testTwoProcesses(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	server, cli := s.newPair(t)

	g := gen(t, server)
	steps := []struct {
		name string
		do   func() error
		see  func() bool
	}{
		{"account add", func() error {
			return cli.PutAccount(ctx, directory.Account{User: "alice", PasswordHash: hashA, Domains: []string{"alice.test"}})
		}, func() bool { a, err := server.GetAccount(ctx, "alice"); return err == nil && a.PasswordHash == hashA }},
		{"account passwd", func() error { return cli.SetAccountPasswordHash(ctx, "alice", hashB) },
			func() bool { a, _ := server.GetAccount(ctx, "alice"); return a.PasswordHash == hashB }},
		{"account suspend", func() error { return cli.SetAccountSuspended(ctx, "alice", true) },
			func() bool { a, _ := server.GetAccount(ctx, "alice"); return a.Suspended }},
		{"mailbox add", func() error {
			return cli.PutMailbox(ctx, directory.Mailbox{Address: "info@alice.test", Account: "alice", PasswordHash: hashA})
		}, func() bool { _, err := server.GetMailbox(ctx, "info@alice.test"); return err == nil }},
		{"mailbox suspend", func() error { return cli.SetMailboxSuspendedLogin(ctx, "info@alice.test", true) },
			func() bool { m, _ := server.GetMailbox(ctx, "info@alice.test"); return m.SuspendedLogin }},
		{"token create", func() error {
			return cli.PutToken(ctx, directory.Token{User: "alice", Name: "ci", Hash: directory.HashToken("ALICETOKEN0123456789ABCDEFGHIJKL")})
		}, func() bool {
			_, err := server.TokenByHash(ctx, "alice", directory.HashToken("ALICETOKEN0123456789ABCDEFGHIJKL"))
			return err == nil
		}},
		{"token revoke", func() error { return cli.RevokeToken(ctx, "alice", "ci") }, func() bool {
			_, err := server.TokenByHash(ctx, "alice", directory.HashToken("ALICETOKEN0123456789ABCDEFGHIJKL"))
			return errors.Is(err, directory.ErrNotFound)
		}},
		{"root passwd", func() error { return cli.SetRootPasswordHash(ctx, hashA) },
			func() bool { h, _ := server.RootPasswordHash(ctx); return h == hashA }},
		{"account remove", func() error { return cli.RemoveAccount(ctx, "alice") }, func() bool {
			_, err := server.GetMailbox(ctx, "info@alice.test")
			return errors.Is(err, directory.ErrNotFound)
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

// testConcurrentWriters hammers one file from two handles at once; every
// call must succeed (busy waits, no lost updates) and every change count
// once in the generation.
func (s sharedSuite) testConcurrentWriters(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a, b := s.newPair(t)
	must(t, a.PutAccount(ctx, directory.Account{User: "alice", Domains: []string{"alice.test"}}))
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
				if err := d.PutMailbox(ctx, directory.Mailbox{Address: addr, Account: "alice", PasswordHash: hashA}); err != nil {
					errs <- err
				}
				if err := d.PutToken(ctx, directory.Token{User: "alice", Name: fmt.Sprintf("w%di%d", w, i), Hash: directory.HashToken(directory.NewTokenSecret())}); err != nil {
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
