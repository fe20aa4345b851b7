package storetest

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/uapid/uapid/internal/store"
)

// The two password hashes of the fixtures.
const hashA = "$6$3SEXnFBYReeZKw/0$LylmlhH1QR/8ptqJOR/4nmv2ZeSSm2Ot96M0H0UBCVVS7tPHEbhSOEfMRVnG9FDEGvCDknBMghfiQ8W1AGc4j/"
const hashB = "$1$mPjYXhV7$OSsxhPZ0Y9LJe2QVo.9qL/"

// The secrets of the fixture's tokens.
const (
	aliceSecret = "ALICETOKEN0123456789ABCDEFGHIJKL"
	rootSecret  = "ROOTTOKEN0123456789ABCDEFGHIJKLM"
)

// dirT0 is a directory time with whole seconds (see the package comment).
var dirT0 = time.Date(2031, time.March, 4, 5, 6, 7, 0, time.UTC)

func (s suite) directoryTests() []namedTest {
	return []namedTest{
		{"RootPasswordHash", s.testRootPasswordHash},
		{"AccountValidation", s.testAccountValidation},
		{"CreateGetAccount", s.testCreateGetAccount},
		{"CreateAccountExists", s.testCreateAccountExists},
		{"AccountNotes", s.testAccountNotes},
		{"ListAccounts", s.testListAccounts},
		{"UpdateAccount", s.testUpdateAccount},
		{"UpdateAccountAbort", s.testUpdateAccountAbort},
		{"RemoveAccount", s.testRemoveAccount},
		{"DomainOwner", s.testDomainOwner},
		{"MailboxValidation", s.testMailboxValidation},
		{"CreateMailboxExists", s.testCreateMailboxExists},
		{"MailboxLifecycle", s.testMailboxLifecycle},
		{"UpdateMailbox", s.testUpdateMailbox},
		{"TokenValidation", s.testTokenValidation},
		{"CreateTokenExists", s.testCreateTokenExists},
		{"TokenSHA512", s.testTokenSHA512},
		{"TokenLifecycle", s.testTokenLifecycle},
		{"CanceledContext", s.testCanceledContext},
	}
}

func gen(t testing.TB, d store.Directory) int64 {
	t.Helper()
	g, err := d.Generation(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// secretsInMessages are texts no error message may carry (the package
// comment: a message names the offending value but never a secret or a
// hash).
var secretsInMessages = []string{hashA, hashB, aliceSecret, rootSecret,
	hex.EncodeToString(tokenHash(aliceSecret)), hex.EncodeToString(tokenHash(rootSecret))}

// checkErr checks err against a wanted kind (nil: success) and a substring
// of its message, and that the message is one for people: not prefixed by
// the kind (store.Error's Error is the message alone) and free of hashes
// and secrets.
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
	if err == nil {
		return
	}
	m := err.Error()
	for _, k := range []error{store.ErrNotFound, store.ErrExists, store.ErrInvalid} {
		if errors.Is(err, k) && strings.HasPrefix(m, k.Error()+":") {
			t.Errorf("%s: message %q starts with its kind; the message alone is wanted (store.Error)", what, m)
		}
	}
	for _, secret := range secretsInMessages {
		if strings.Contains(m, secret) {
			t.Errorf("%s: message %q shows a hash or secret", what, m)
		}
	}
}

// sameAccount compares two accounts, CreatedAt included.
func sameAccount(a, b store.Account) bool {
	return store.SameAccount(a, b) && a.CreatedAt.Equal(b.CreatedAt)
}

func sameAccounts(a, b []store.Account) bool {
	return slices.EqualFunc(a, b, sameAccount)
}

func listAccounts(t testing.TB, d store.Directory) []store.Account {
	t.Helper()
	l, err := d.ListAccounts(context.Background())
	must(t, err)
	return l
}

func getAccount(t testing.TB, d store.Directory, user string) store.Account {
	t.Helper()
	a, err := d.GetAccount(context.Background(), user)
	if err != nil {
		t.Fatalf("GetAccount(%s): %v", user, err)
	}
	return a
}

func getMailbox(t testing.TB, d store.Directory, address string) store.Mailbox {
	t.Helper()
	m, err := d.GetMailbox(context.Background(), address)
	if err != nil {
		t.Fatalf("GetMailbox(%s): %v", address, err)
	}
	return m
}

// fixtureDir returns a directory with: reseller "res" (owner root, res.test)
// owning "alice" (alice.test, shop.alice.test; database alice_wp); "bob"
// (bob.test) owned by root; mailbox info@alice.test (hashB); a token "ci"
// for alice and "billing" for root. It is made with the Create methods.
func (s suite) fixtureDir(t testing.TB) store.Directory {
	t.Helper()
	ctx := context.Background()
	d := s.dir(t)
	must(t, d.CreateAccount(ctx, store.Account{User: "res", PasswordHash: hashA, Domains: []string{"res.test"}, Reseller: true}))
	must(t, d.CreateAccount(ctx, store.Account{User: "alice", PasswordHash: hashA, Domains: []string{"alice.test", "shop.alice.test"}, Owner: "res", Databases: []string{"alice_wp"}}))
	must(t, d.CreateAccount(ctx, store.Account{User: "bob", PasswordHash: hashB, Domains: []string{"bob.test"}}))
	must(t, d.CreateMailbox(ctx, store.Mailbox{Address: "info@alice.test", Account: "alice", PasswordHash: hashB}))
	must(t, d.CreateToken(ctx, store.Token{User: "alice", Name: "ci", Hash: tokenHash(aliceSecret)}))
	must(t, d.CreateToken(ctx, store.Token{User: "root", Name: "billing", Hash: tokenHash(rootSecret)}))
	return d
}

func (s suite) testRootPasswordHash(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := s.dir(t)
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
	checkErr(t, "bad hash", d.SetRootPasswordHash(ctx, "a:b"), store.ErrInvalid, "not a valid crypt string")
	if h, _ := d.RootPasswordHash(ctx); h != hashA {
		t.Errorf("root hash = %q after a refused change", h)
	}
	if g := gen(t, d); g != g1 {
		t.Errorf("generation moved (%d -> %d) on a refused change", g1, g)
	}
	must(t, d.SetRootPasswordHash(ctx, ""))
	if h, _ := d.RootPasswordHash(ctx); h != "" {
		t.Errorf("root hash = %q after clearing", h)
	}
	if g := gen(t, d); g != g1+1 {
		t.Errorf("generation %d -> %d after clearing, want +1", g1, g)
	}
}

// testAccountValidation checks the rules on an account, through CreateAccount
// (new users) or UpdateAccount (the fixture's users), and then through
// PutAccount: a refused record is refused by Put as well; a stored one is
// stored again by Put without a change.
func (s suite) testAccountValidation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	base := func() store.Account {
		return store.Account{User: "carol", PasswordHash: hashA, Domains: []string{"carol.test"}}
	}
	for _, tc := range []struct {
		name string
		edit func(a *store.Account)
		want error
		msg  string
	}{
		{"ok", func(a *store.Account) {}, nil, ""},
		{"upper-case user is lower-cased", func(a *store.Account) { a.User = "Carol" }, nil, ""},
		{"empty user", func(a *store.Account) { a.User = "" }, store.ErrInvalid, "“” is not a valid user name"},
		{"root", func(a *store.Account) { a.User = "root" }, store.ErrInvalid, "“root” is the superuser"},
		{"ROOT", func(a *store.Account) { a.User = "ROOT" }, store.ErrInvalid, "“root” is the superuser"},
		{"digit first", func(a *store.Account) { a.User = "1carol" }, store.ErrInvalid, "“1carol” is not a valid user name"},
		{"too long", func(a *store.Account) { a.User = "abcdefghijklmnopq" }, store.ErrInvalid, "is not a valid user name"},
		{"underscore", func(a *store.Account) { a.User = "ca_rol" }, store.ErrInvalid, "is not a valid user name"},
		{"bad hash", func(a *store.Account) { a.PasswordHash = "has space" }, store.ErrInvalid, "password hash of “carol” is not a valid crypt string"},
		{"empty hash", func(a *store.Account) { a.PasswordHash = "" }, nil, ""},
		{"bad domain", func(a *store.Account) { a.Domains = []string{"carol"} }, store.ErrInvalid, "“carol” is not a valid domain name"},
		{"bad domain 2", func(a *store.Account) { a.Domains = []string{"carol.test", "x..test"} }, store.ErrInvalid, "“x..test” is not a valid domain name"},
		{"domain twice", func(a *store.Account) { a.Domains = []string{"carol.test", "CAROL.test"} }, store.ErrInvalid, "domain “carol.test” is listed twice"},
		{"domain of another account", func(a *store.Account) { a.Domains = []string{"carol.test", "Bob.Test"} }, store.ErrExists, "bob.test"},
		{"no domains", func(a *store.Account) { a.Domains = nil }, nil, ""},
		{"bad locale", func(a *store.Account) { a.Locale = "en-US" }, store.ErrInvalid, "“en-US” is not a valid locale name"},
		{"locale", func(a *store.Account) { a.Locale = "pt_br" }, nil, ""},
		{"owner root", func(a *store.Account) { a.Owner = "root" }, nil, ""},
		{"owner reseller", func(a *store.Account) { a.Owner = "RES" }, nil, ""},
		{"owner unknown", func(a *store.Account) { a.Owner = "nobody" }, store.ErrInvalid, "nobody"},
		{"owner invalid", func(a *store.Account) { a.Owner = "no body" }, store.ErrInvalid, "owner “no body” is not a valid user name"},
		{"owner not reseller", func(a *store.Account) { a.Owner = "bob" }, store.ErrInvalid, "bob"},
		{"owns itself without being reseller", func(a *store.Account) { a.Owner = "carol" }, store.ErrInvalid, "can only own itself if it is a reseller"},
		{"reseller owns itself", func(a *store.Account) { a.Owner = "carol"; a.Reseller = true }, nil, ""},
		{"database", func(a *store.Account) { a.Databases = []string{"carol_wp", "carol_shop"} }, nil, ""},
		{"database without prefix", func(a *store.Account) { a.Databases = []string{"wp"} }, store.ErrInvalid, "“wp” is not a valid database name for “carol”"},
		{"database twice", func(a *store.Account) { a.Databases = []string{"carol_wp", "carol_wp"} }, store.ErrInvalid, "database “carol_wp” is listed twice"},
		{"plan", func(a *store.Account) { a.Plan = "Gold plan (2 GB)" }, nil, ""},
		{"plan with a line break", func(a *store.Account) { a.Plan = "gold\nplan" }, store.ErrInvalid, "the plan of “carol” is not a valid name"},
		{"plan too long", func(a *store.Account) { a.Plan = strings.Repeat("p", store.MaxNoteLen+1) }, store.ErrInvalid, "the plan of “carol” is not a valid name"},
		{"plan not UTF-8", func(a *store.Account) { a.Plan = "gold\xff" }, store.ErrInvalid, "the plan of “carol” is not a valid name"},
		{"contact", func(a *store.Account) { a.ContactEmail = "carol@example.com" }, nil, ""},
		{"bad contact", func(a *store.Account) { a.ContactEmail = "carol at example" }, store.ErrInvalid, "“carol at example” is not a valid email address"},
		{"contact without domain", func(a *store.Account) { a.ContactEmail = "carol@localhost" }, store.ErrInvalid, "“carol@localhost” is not a valid email address"},
		{"suspended", func(a *store.Account) {
			a.Suspended, a.SuspendReason, a.SuspendedAt, a.SuspendLocked = true, "unpaid invoice #12", dirT0, true
		}, nil, ""},
		{"suspended without details", func(a *store.Account) { a.Suspended = true }, nil, ""},
		{"bad suspension reason", func(a *store.Account) { a.Suspended, a.SuspendReason = true, "unpaid\x00" }, store.ErrInvalid, "the suspension reason of “carol” is not valid"},
		{"reason of an unsuspended account is dropped", func(a *store.Account) {
			// Not checked either: it is cleared first.
			a.SuspendReason, a.SuspendedAt, a.SuspendLocked = "bad\nreason", dirT0, true
		}, nil, ""},
		{"demote reseller owning accounts", func(a *store.Account) { a.User = "res"; a.Domains = []string{"res.test"} }, store.ErrInvalid, "res"},
		{"drop domain with mailboxes", func(a *store.Account) {
			a.User, a.Owner, a.Domains = "alice", "res", []string{"shop.alice.test"}
		}, store.ErrInvalid, "alice.test"},
		{"drop domain without mailboxes", func(a *store.Account) {
			a.User, a.Owner, a.Domains = "alice", "res", []string{"alice.test"}
		}, nil, ""},
		{"move a domain between own", func(a *store.Account) {
			a.User, a.Owner, a.Domains = "alice", "res", []string{"shop.alice.test", "alice.test", "new.alice.test"}
		}, nil, ""},
		{"take the domain of another", func(a *store.Account) {
			a.User, a.Owner, a.Domains = "alice", "res", []string{"alice.test", "shop.alice.test", "res.test"}
		}, store.ErrExists, "res.test"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := s.fixtureDir(t)
			a := base()
			tc.edit(&a)
			user := strings.ToLower(a.User)
			existing := user == "res" || user == "alice" || user == "bob"
			before := listAccounts(t, d)
			g0 := gen(t, d)

			var err error
			op := "CreateAccount"
			if existing {
				op = "UpdateAccount"
				var got store.Account
				got, err = d.UpdateAccount(ctx, user, func(p *store.Account) error {
					created := p.CreatedAt
					*p = a
					p.CreatedAt = created
					return nil
				})
				if err == nil && !sameAccount(got, getAccount(t, d, user)) {
					t.Errorf("UpdateAccount returned %+v, GetAccount %+v", got, getAccount(t, d, user))
				}
			} else {
				err = d.CreateAccount(ctx, a)
			}
			checkErr(t, op, err, tc.want, tc.msg)
			if err != nil {
				// A failed call changes nothing; Put refuses it too.
				if after := listAccounts(t, d); !sameAccounts(before, after) {
					t.Errorf("failed %s changed the accounts:\n%+v\n%+v", op, before, after)
				}
				if g := gen(t, d); g != g0 {
					t.Errorf("failed %s moved the generation", op)
				}
				checkErr(t, "PutAccount", d.PutAccount(ctx, a), tc.want, tc.msg)
				if after := listAccounts(t, d); !sameAccounts(before, after) {
					t.Errorf("failed PutAccount changed the accounts:\n%+v\n%+v", before, after)
				}
				if g := gen(t, d); g != g0 {
					t.Errorf("failed PutAccount moved the generation")
				}
				return
			}
			if g := gen(t, d); g != g0+1 {
				t.Errorf("%s: generation %d -> %d, want +1", op, g0, g)
			}
			want, nerr := store.NormalizeAccount(a)
			must(t, nerr)
			got := getAccount(t, d, a.User)
			if !store.SameAccount(got, want) {
				t.Errorf("%s stored\n%+v, want\n%+v", op, got, want)
			}
			if got.CreatedAt.IsZero() {
				t.Errorf("%s stored no CreatedAt", op)
			}
			for _, dom := range want.Domains {
				if o, err := d.DomainOwner(ctx, dom); err != nil || o != user {
					t.Errorf("DomainOwner(%s) = %q, %v; want %q", dom, o, err, user)
				}
			}
			// Storing what is there changes nothing.
			must(t, d.PutAccount(ctx, a))
			if g := gen(t, d); g != g0+1 {
				t.Errorf("PutAccount of the stored account moved the generation")
			}
			if again := getAccount(t, d, a.User); !sameAccount(again, got) {
				t.Errorf("PutAccount of the stored account changed it:\n%+v\n%+v", got, again)
			}
		})
	}
}

func (s suite) testCreateGetAccount(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := s.fixtureDir(t)
	a := store.Account{User: "Dave", PasswordHash: hashA, Domains: []string{"Dave.TEST", "www.dave.test"}, Databases: []string{"dave_a", "dave_b"}}
	g0 := gen(t, d)
	must(t, d.CreateAccount(ctx, a))
	if g := gen(t, d); g != g0+1 {
		t.Errorf("CreateAccount: generation %d -> %d, want +1", g0, g)
	}
	got := getAccount(t, d, "DAVE")
	want := store.Account{User: "dave", PasswordHash: hashA, Domains: []string{"dave.test", "www.dave.test"}, Locale: "en", Owner: "root", Databases: []string{"dave_a", "dave_b"}}
	created := got.CreatedAt
	if age := time.Since(created); age > time.Minute || age < -time.Minute || created.IsZero() {
		t.Errorf("CreatedAt = %v, want about now", created)
	}
	if !store.SameAccount(got, want) {
		t.Errorf("GetAccount =\n%+v, want\n%+v", got, want)
	}

	// The same again through Put changes nothing.
	g := gen(t, d)
	must(t, d.PutAccount(ctx, want))
	if gen(t, d) != g {
		t.Error("identical PutAccount moved the generation")
	}
	if again := getAccount(t, d, "dave"); !sameAccount(again, got) {
		t.Errorf("identical PutAccount changed the account: %+v", again)
	}

	// Replace: every field changes, CreatedAt stays, domain order is kept.
	repl := store.Account{User: "dave", PasswordHash: hashB, Domains: []string{"www.dave.test", "new.test"}, Locale: "de",
		Owner: "res", Reseller: true, Databases: []string{"dave_c"}, CreatedAt: time.Unix(5, 0),
		Plan: "Gold", ContactEmail: "dave@example.com",
		Suspended: true, SuspendReason: "abuse", SuspendedAt: dirT0, SuspendLocked: true}
	must(t, d.PutAccount(ctx, repl))
	got = getAccount(t, d, "dave")
	if !got.CreatedAt.Equal(created) {
		t.Errorf("CreatedAt changed on replace: %v -> %v", created, got.CreatedAt)
	}
	if !store.SameAccount(got, repl) {
		t.Errorf("after replace GetAccount =\n%+v, want\n%+v", got, repl)
	}
	if gen(t, d) != g+1 {
		t.Error("replace did not move the generation by one")
	}
	if o, err := d.DomainOwner(ctx, "dave.test"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("dropped domain still owned by %q (%v)", o, err)
	}
	// The dropped domain is free for another account.
	must(t, d.CreateAccount(ctx, store.Account{User: "erin", Domains: []string{"dave.test"}}))

	// A new account keeps a given CreatedAt (imports), through Create and Put.
	at := time.Date(2020, 5, 6, 7, 8, 9, 0, time.UTC)
	must(t, d.CreateAccount(ctx, store.Account{User: "gina", CreatedAt: at}))
	must(t, d.PutAccount(ctx, store.Account{User: "hank", CreatedAt: at}))
	must(t, d.CreateMailbox(ctx, store.Mailbox{Address: "g@dave.test", Account: "erin", CreatedAt: at}))
	must(t, d.PutMailbox(ctx, store.Mailbox{Address: "h@dave.test", Account: "erin", CreatedAt: at}))
	for _, u := range []string{"gina", "hank"} {
		if a := getAccount(t, d, u); !a.CreatedAt.Equal(at) {
			t.Errorf("new account %s: CreatedAt = %v, want %v", u, a.CreatedAt, at)
		}
	}
	for _, addr := range []string{"g@dave.test", "h@dave.test"} {
		if m := getMailbox(t, d, addr); !m.CreatedAt.Equal(at) {
			t.Errorf("new mailbox %s: CreatedAt = %v, want %v", addr, m.CreatedAt, at)
		}
	}

	_, err := d.GetAccount(ctx, "nobody")
	checkErr(t, "GetAccount(nobody)", err, store.ErrNotFound, "account “nobody” does not exist")
	_, err = d.GetAccount(ctx, "root")
	checkErr(t, "GetAccount(root)", err, store.ErrNotFound, "")
	_, err = d.GetAccount(ctx, "not a user\xff")
	checkErr(t, "GetAccount(invalid name)", err, store.ErrNotFound, "")
}

// testCreateAccountExists: creation is create-only.
func (s suite) testCreateAccountExists(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := s.fixtureDir(t)
	before := listAccounts(t, d)
	g0 := gen(t, d)
	for _, tc := range []struct {
		name string
		a    store.Account
	}{
		{"same user", store.Account{User: "alice", PasswordHash: hashB, Domains: []string{"other.test"}}},
		{"same user, upper-case", store.Account{User: "ALICE", PasswordHash: hashB, Domains: []string{"other.test"}, Owner: "root"}},
		{"same user, same domains", store.Account{User: "alice", PasswordHash: hashB, Domains: []string{"alice.test", "shop.alice.test"}, Owner: "res"}},
		{"domain of another account", store.Account{User: "carol", PasswordHash: hashB, Domains: []string{"carol.test", "shop.alice.test"}}},
		{"main domain of another account", store.Account{User: "carol", PasswordHash: hashB, Domains: []string{"BOB.test"}}},
	} {
		err := d.CreateAccount(ctx, tc.a)
		checkErr(t, "CreateAccount("+tc.name+")", err, store.ErrExists, "")
	}
	if after := listAccounts(t, d); !sameAccounts(before, after) {
		t.Errorf("refused creations changed the accounts:\n%+v\n%+v", before, after)
	}
	if g := gen(t, d); g != g0 {
		t.Errorf("refused creations moved the generation %d -> %d", g0, g)
	}
	alice := getAccount(t, d, "alice")
	if alice.PasswordHash != hashA || !slices.Equal(alice.Domains, []string{"alice.test", "shop.alice.test"}) || alice.Owner != "res" {
		t.Errorf("alice after refused creations: %+v", alice)
	}
	for _, dom := range []string{"other.test", "carol.test"} {
		if o, err := d.DomainOwner(ctx, dom); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("domain %s of a refused creation is owned by %q (%v)", dom, o, err)
		}
	}
	if _, err := d.GetAccount(ctx, "carol"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("carol exists after a refused creation: %v", err)
	}
}

// testAccountNotes: plan, contact address and suspension details round-trip
// through Create, Get, List, Update and Put; an account that is not
// suspended has none of them.
func (s suite) testAccountNotes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := s.fixtureDir(t)
	full := store.Account{User: "dora", PasswordHash: hashA, Domains: []string{"dora.test"}, Locale: "de", Owner: "res",
		Plan: "Gold “plus” ü", ContactEmail: "Dora.Owner@Example.com",
		Suspended: true, SuspendReason: "Unpaid invoice — 2031/03", SuspendedAt: dirT0, SuspendLocked: true}
	must(t, d.CreateAccount(ctx, full))
	check := func(what string, want store.Account) {
		t.Helper()
		got := getAccount(t, d, want.User)
		if !store.SameAccount(got, want) {
			t.Errorf("%s: GetAccount =\n%+v, want\n%+v", what, got, want)
		}
		if !got.SuspendedAt.Equal(want.SuspendedAt) {
			t.Errorf("%s: SuspendedAt = %v, want %v", what, got.SuspendedAt, want.SuspendedAt)
		}
		for _, l := range listAccounts(t, d) {
			if l.User == want.User && !sameAccount(l, got) {
				t.Errorf("%s: ListAccounts has\n%+v, GetAccount\n%+v", what, l, got)
			}
		}
	}
	check("Create", full)

	// Update changes them; unsuspending clears the details.
	upd, err := d.UpdateAccount(ctx, "dora", func(a *store.Account) error {
		if a.Plan != full.Plan || a.SuspendReason != full.SuspendReason || !a.SuspendLocked {
			t.Errorf("UpdateAccount's function got %+v", *a)
		}
		a.Plan, a.ContactEmail = "Silver", ""
		a.Suspended = false // leaves reason, time and lock to the store to clear
		return nil
	})
	must(t, err)
	want := full
	want.Plan, want.ContactEmail = "Silver", ""
	want.Suspended, want.SuspendReason, want.SuspendedAt, want.SuspendLocked = false, "", time.Time{}, false
	if !store.SameAccount(upd, want) {
		t.Errorf("UpdateAccount returned\n%+v, want\n%+v", upd, want)
	}
	check("Update (unsuspend)", want)

	_, err = d.UpdateAccount(ctx, "dora", func(a *store.Account) error {
		a.Suspended, a.SuspendReason, a.SuspendedAt = true, "abuse", dirT0.Add(time.Hour)
		return nil
	})
	must(t, err)
	want.Suspended, want.SuspendReason, want.SuspendedAt = true, "abuse", dirT0.Add(time.Hour)
	check("Update (suspend)", want)

	// Put replaces them, and clears the details of an unsuspended account.
	put := want
	put.Plan, put.ContactEmail = "", "dora@example.net"
	put.Suspended, put.SuspendLocked = false, true
	must(t, d.PutAccount(ctx, put))
	want = put
	want.SuspendReason, want.SuspendedAt, want.SuspendLocked = "", time.Time{}, false
	check("Put", want)

	// Create clears them too.
	must(t, d.CreateAccount(ctx, store.Account{User: "eve", SuspendReason: "x", SuspendedAt: dirT0, SuspendLocked: true}))
	if e := getAccount(t, d, "eve"); e.Suspended || e.SuspendReason != "" || !e.SuspendedAt.IsZero() || e.SuspendLocked {
		t.Errorf("unsuspended account kept suspension details: %+v", e)
	}
}

func (s suite) testListAccounts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := s.dir(t)
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
		if one := getAccount(t, d, a.User); !sameAccount(one, a) {
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

// testUpdateAccount: the changes the old Set* methods made, through
// UpdateAccount.
func (s suite) testUpdateAccount(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := s.fixtureDir(t)
	created := getAccount(t, d, "alice").CreatedAt
	update := func(user string, fn func(a *store.Account)) func() error {
		return func() error {
			got, err := d.UpdateAccount(ctx, user, func(a *store.Account) error { fn(a); return nil })
			if err == nil {
				if stored := getAccount(t, d, user); !sameAccount(got, stored) {
					t.Errorf("UpdateAccount returned\n%+v, GetAccount\n%+v", got, stored)
				}
			}
			return err
		}
	}
	for _, tc := range []struct {
		name    string
		call    func() error
		want    error
		msg     string
		changes bool
		check   func(a store.Account) bool
	}{
		{"suspend", update("ALICE", func(a *store.Account) { a.Suspended, a.SuspendReason = true, "abuse" }), nil, "", true,
			func(a store.Account) bool { return a.Suspended && a.SuspendReason == "abuse" }},
		{"suspend again", update("alice", func(a *store.Account) { a.Suspended, a.SuspendReason = true, "abuse" }), nil, "", false,
			func(a store.Account) bool { return a.Suspended }},
		{"no change", update("alice", func(a *store.Account) {}), nil, "", false, func(a store.Account) bool { return a.Suspended }},
		{"unsuspend", update("alice", func(a *store.Account) { a.Suspended = false }), nil, "", true,
			func(a store.Account) bool { return !a.Suspended && a.SuspendReason == "" }},
		{"suspend unknown", update("nobody", func(a *store.Account) { a.Suspended = true }), store.ErrNotFound, "account “nobody” does not exist", false, nil},
		{"password", update("alice", func(a *store.Account) { a.PasswordHash = hashB }), nil, "", true,
			func(a store.Account) bool { return a.PasswordHash == hashB }},
		{"same password", update("alice", func(a *store.Account) { a.PasswordHash = hashB }), nil, "", false,
			func(a store.Account) bool { return a.PasswordHash == hashB }},
		{"lock", update("alice", func(a *store.Account) { a.PasswordHash = "!" + hashB }), nil, "", true,
			func(a store.Account) bool { return a.PasswordHash == "!"+hashB }},
		{"bad hash", update("alice", func(a *store.Account) { a.PasswordHash = "x\ny" }), store.ErrInvalid, "not a valid crypt string", false,
			func(a store.Account) bool { return a.PasswordHash == "!"+hashB }},
		{"password unknown", update("nobody", func(a *store.Account) { a.PasswordHash = hashA }), store.ErrNotFound, "account “nobody” does not exist", false, nil},
		{"plan and contact", update("alice", func(a *store.Account) { a.Plan, a.ContactEmail = "Bronze", "alice@example.com" }), nil, "", true,
			func(a store.Account) bool { return a.Plan == "Bronze" && a.ContactEmail == "alice@example.com" }},
		{"bad contact", update("alice", func(a *store.Account) { a.ContactEmail = "nope" }), store.ErrInvalid, "“nope” is not a valid email address", false,
			func(a store.Account) bool { return a.ContactEmail == "alice@example.com" }},
		{"add a domain and a database", update("alice", func(a *store.Account) {
			a.Domains = append(a.Domains, "Blog.Alice.Test")
			a.Databases = append(a.Databases, "alice_blog")
		}), nil, "", true, func(a store.Account) bool {
			return slices.Equal(a.Domains, []string{"alice.test", "shop.alice.test", "blog.alice.test"}) &&
				slices.Equal(a.Databases, []string{"alice_wp", "alice_blog"})
		}},
		{"take bob's domain", update("alice", func(a *store.Account) { a.Domains = append(a.Domains, "bob.test") }), store.ErrExists, "bob.test", false,
			func(a store.Account) bool { return len(a.Domains) == 3 }},
		{"demote reseller owning accounts", update("res", func(a *store.Account) { a.Reseller = false }), store.ErrInvalid, "res", false,
			func(a store.Account) bool { return a.Owner == "res" }},
		{"owner unknown", update("alice", func(a *store.Account) { a.Owner = "nobody" }), store.ErrInvalid, "nobody", false,
			func(a store.Account) bool { return a.Owner == "res" }},
		{"owner root", update("alice", func(a *store.Account) { a.Owner = "root" }), nil, "", true,
			func(a store.Account) bool { return a.Owner == "root" }},
		// bob has no databases or mailboxes: the new name alone breaks no
		// other rule.
		{"rename", update("bob", func(a *store.Account) { a.User, a.Domains = "bobby", nil }), store.ErrInvalid, "", false, nil},
		{"rename to an existing user", update("bob", func(a *store.Account) { a.User = "res" }), store.ErrInvalid, "", false, nil},
		{"CreatedAt is kept", update("alice", func(a *store.Account) { a.CreatedAt = time.Unix(5, 0) }), nil, "", false,
			func(a store.Account) bool { return a.CreatedAt.Equal(created) }},
		{"CreatedAt is kept on a change", update("alice", func(a *store.Account) { a.CreatedAt, a.Plan = time.Unix(5, 0), "Kept" }), nil, "", true,
			func(a store.Account) bool { return a.CreatedAt.Equal(created) && a.Plan == "Kept" }},
	} {
		g := gen(t, d)
		checkErr(t, tc.name, tc.call(), tc.want, tc.msg)
		if moved := gen(t, d) != g; moved != tc.changes {
			t.Errorf("%s: generation moved = %v, want %v", tc.name, moved, tc.changes)
		}
		if tc.check != nil {
			if a := getAccount(t, d, "alice"); !tc.check(a) {
				t.Errorf("%s: account is %+v", tc.name, a)
			}
		}
	}
	if _, err := d.GetAccount(ctx, "bobby"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a refused rename created bobby: %v", err)
	}
	if b := getAccount(t, d, "bob"); b.PasswordHash != hashB || !slices.Equal(b.Domains, []string{"bob.test"}) {
		t.Errorf("bob after refused renames: %+v", b)
	}
	if r := getAccount(t, d, "res"); r.PasswordHash != hashA || !slices.Equal(r.Domains, []string{"res.test"}) {
		t.Errorf("res after a refused rename of bob to res: %+v", r)
	}
	if r := getAccount(t, d, "res"); !r.Reseller {
		t.Errorf("res was demoted: %+v", r)
	}
}

// testUpdateAccountAbort: an error from UpdateAccount's function is
// returned as it is and changes nothing, even when the function changed
// the record (and its slices) before failing.
func (s suite) testUpdateAccountAbort(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := s.fixtureDir(t)
	before := listAccounts(t, d)
	g0 := gen(t, d)
	errAbort := errors.New("storetest: abort")
	_, err := d.UpdateAccount(ctx, "alice", func(a *store.Account) error {
		a.PasswordHash = hashB
		a.Domains[0] = "evil.test"
		a.Domains = append(a.Domains, "more.test")
		a.Databases[0] = "alice_evil"
		a.Suspended, a.SuspendReason = true, "never"
		a.Plan, a.Owner = "Evil", "root"
		return errAbort
	})
	if err != errAbort {
		t.Errorf("UpdateAccount returned %v, want the function's error as it is", err)
	}
	if after := listAccounts(t, d); !sameAccounts(before, after) {
		t.Errorf("aborted UpdateAccount changed the accounts:\n%+v\n%+v", before, after)
	}
	if g := gen(t, d); g != g0 {
		t.Errorf("aborted UpdateAccount moved the generation %d -> %d", g0, g)
	}
	for _, dom := range []string{"evil.test", "more.test"} {
		if o, err := d.DomainOwner(ctx, dom); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("aborted UpdateAccount: %s owned by %q (%v)", dom, o, err)
		}
	}
	if o, err := d.DomainOwner(ctx, "alice.test"); err != nil || o != "alice" {
		t.Errorf("aborted UpdateAccount: alice.test owned by %q (%v)", o, err)
	}

	// An unknown user: ErrNotFound, and the function does not run.
	ran := false
	_, err = d.UpdateAccount(ctx, "nobody", func(a *store.Account) error { ran = true; return nil })
	checkErr(t, "UpdateAccount(nobody)", err, store.ErrNotFound, "account “nobody” does not exist")
	if ran {
		t.Error("UpdateAccount ran its function for an unknown user")
	}
	_, err = d.UpdateAccount(ctx, "root", func(a *store.Account) error { ran = true; return nil })
	checkErr(t, "UpdateAccount(root)", err, store.ErrNotFound, "")
	if ran {
		t.Error("UpdateAccount ran its function for root")
	}
	if g := gen(t, d); g != g0 {
		t.Errorf("failed updates moved the generation %d -> %d", g0, g)
	}
}

func (s suite) testRemoveAccount(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := s.fixtureDir(t)
	g := gen(t, d)
	checkErr(t, "remove unknown", d.RemoveAccount(ctx, "nobody"), store.ErrNotFound, "account “nobody” does not exist")
	checkErr(t, "remove reseller", d.RemoveAccount(ctx, "res"), store.ErrInvalid, "res")
	if gen(t, d) != g {
		t.Error("failed removals moved the generation")
	}
	if _, err := d.GetAccount(ctx, "res"); err != nil {
		t.Errorf("refused removal removed res: %v", err)
	}

	must(t, d.RemoveAccount(ctx, "ALICE"))
	if gen(t, d) != g+1 {
		t.Error("removal did not move the generation by one")
	}
	if _, err := d.GetAccount(ctx, "alice"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetAccount after removal: %v", err)
	}
	if _, err := d.GetMailbox(ctx, "info@alice.test"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("mailbox survived its account: %v", err)
	}
	if _, err := d.TokenByHash(ctx, "alice", tokenHash(aliceSecret)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("token survived its account: %v", err)
	}
	if _, err := d.DomainOwner(ctx, "shop.alice.test"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("domain survived its account: %v", err)
	}
	if _, err := d.ListMailboxes(ctx, "alice"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("ListMailboxes of the removed account: %v, want ErrNotFound", err)
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
	checkErr(t, "remove again", d.RemoveAccount(ctx, "alice"), store.ErrNotFound, "")

	// A re-created account starts empty.
	must(t, d.CreateAccount(ctx, store.Account{User: "alice", Domains: []string{"alice.test"}, Databases: []string{"alice_new"}}))
	if mb, _ := d.ListMailboxes(ctx, "alice"); len(mb) != 0 {
		t.Errorf("re-created account has mailboxes %v", mb)
	}
	if tk, _ := d.ListTokens(ctx, "alice"); len(tk) != 0 {
		t.Errorf("re-created account has tokens %v", tk)
	}
	if a := getAccount(t, d, "alice"); !slices.Equal(a.Databases, []string{"alice_new"}) {
		t.Errorf("re-created account has databases %v", a.Databases)
	}
	must(t, d.RemoveAccount(ctx, "alice"))

	// Now the reseller owns nobody else and can go, even though it owns itself.
	must(t, d.PutAccount(ctx, store.Account{User: "res", Domains: []string{"res.test"}, Reseller: true, Owner: "res"}))
	must(t, d.RemoveAccount(ctx, "res"))
	if users := listAccounts(t, d); len(users) != 1 || users[0].User != "bob" {
		t.Errorf("accounts left: %+v", users)
	}
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
		{"res.test", "res", nil},
		{"nobody.test", "", store.ErrNotFound},
		{"alice", "", store.ErrNotFound},
		{"", "", store.ErrNotFound},
	} {
		o, err := d.DomainOwner(ctx, tc.domain)
		checkErr(t, "DomainOwner("+tc.domain+")", err, tc.want, "")
		if o != tc.owner {
			t.Errorf("DomainOwner(%q) = %q, want %q", tc.domain, o, tc.owner)
		}
	}
}

// testMailboxValidation checks the rules on a mailbox through CreateMailbox,
// then through PutMailbox (refused alike; a stored mailbox stored again
// without a change).
func (s suite) testMailboxValidation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		m    store.Mailbox
		want error
		msg  string
		acct string // expected owner after success
	}{
		{"ok", store.Mailbox{Address: "sales@alice.test", Account: "alice", PasswordHash: hashA}, nil, "", "alice"},
		{"upper case", store.Mailbox{Address: "Sales@Shop.Alice.TEST", Account: "ALICE", PasswordHash: hashA}, nil, "", "alice"},
		{"account from domain", store.Mailbox{Address: "x@bob.test", PasswordHash: hashA}, nil, "", "bob"},
		{"empty hash", store.Mailbox{Address: "x@bob.test", Account: "bob"}, nil, "", "bob"},
		{"locked hash", store.Mailbox{Address: "x@bob.test", Account: "bob", PasswordHash: "!" + hashA}, nil, "", "bob"},
		{"suspended login", store.Mailbox{Address: "x@bob.test", Account: "bob", SuspendedLogin: true}, nil, "", "bob"},
		{"quota", store.Mailbox{Address: "x@bob.test", Account: "bob", PasswordHash: hashA, Quota: 1 << 40}, nil, "", "bob"},
		{"negative quota", store.Mailbox{Address: "x@bob.test", Account: "bob", Quota: -1}, store.ErrInvalid, "the quota of “x@bob.test” is negative", ""},
		{"no at", store.Mailbox{Address: "alice.test", Account: "alice"}, store.ErrInvalid, "“alice.test” is not a valid mailbox address", ""},
		{"bad local", store.Mailbox{Address: "a..b@alice.test", Account: "alice"}, store.ErrInvalid, "“a..b@alice.test” is not a valid mailbox address", ""},
		{"empty local", store.Mailbox{Address: "@alice.test", Account: "alice"}, store.ErrInvalid, "is not a valid mailbox address", ""},
		{"bad domain", store.Mailbox{Address: "a@alice", Account: "alice"}, store.ErrInvalid, "is not a valid mailbox address", ""},
		{"bad hash", store.Mailbox{Address: "a@alice.test", Account: "alice", PasswordHash: "a b"}, store.ErrInvalid, "password hash of “a@alice.test” is not a valid crypt string", ""},
		{"domain of other account", store.Mailbox{Address: "a@bob.test", Account: "alice"}, store.ErrInvalid, "bob.test", ""},
		{"unknown domain", store.Mailbox{Address: "a@nowhere.test", Account: "alice"}, store.ErrInvalid, "nowhere.test", ""},
		{"unknown domain, no account", store.Mailbox{Address: "a@nowhere.test"}, store.ErrInvalid, "nowhere.test", ""},
		{"unknown account", store.Mailbox{Address: "a@alice.test", Account: "nobody"}, store.ErrNotFound, "account “nobody” does not exist", ""},
		{"invalid account", store.Mailbox{Address: "a@alice.test", Account: "no body"}, store.ErrNotFound, "account “no body” does not exist", ""},
		{"root", store.Mailbox{Address: "a@alice.test", Account: "root"}, store.ErrNotFound, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := s.fixtureDir(t)
			g := gen(t, d)
			before, err := d.ListMailboxes(ctx, "")
			must(t, err)
			err = d.CreateMailbox(ctx, tc.m)
			checkErr(t, "CreateMailbox", err, tc.want, tc.msg)
			moved := gen(t, d) != g
			if moved != (err == nil) {
				t.Errorf("generation moved = %v with error %v", moved, err)
			}
			if err != nil {
				checkErr(t, "PutMailbox", d.PutMailbox(ctx, tc.m), tc.want, tc.msg)
				after, err := d.ListMailboxes(ctx, "")
				must(t, err)
				if fmt.Sprint(before) != fmt.Sprint(after) {
					t.Errorf("refused mailbox changed the mailboxes:\n%v\n%v", before, after)
				}
				if gen(t, d) != g {
					t.Error("refused mailbox moved the generation")
				}
				return
			}
			m := getMailbox(t, d, tc.m.Address)
			if m.Address != strings.ToLower(tc.m.Address) || m.Account != tc.acct || m.PasswordHash != tc.m.PasswordHash ||
				m.SuspendedLogin != tc.m.SuspendedLogin || m.Quota != tc.m.Quota || m.CreatedAt.IsZero() {
				t.Errorf("GetMailbox = %+v", m)
			}
			must(t, d.PutMailbox(ctx, tc.m))
			if gen(t, d) != g+1 {
				t.Error("PutMailbox of the stored mailbox moved the generation")
			}
			if again := getMailbox(t, d, tc.m.Address); again != m {
				t.Errorf("PutMailbox of the stored mailbox changed it: %+v -> %+v", m, again)
			}
		})
	}
}

// testCreateMailboxExists: creation is create-only.
func (s suite) testCreateMailboxExists(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := s.fixtureDir(t)
	orig := getMailbox(t, d, "info@alice.test")
	g := gen(t, d)
	for _, m := range []store.Mailbox{
		{Address: "info@alice.test", Account: "alice", PasswordHash: hashA},
		{Address: "INFO@Alice.Test", PasswordHash: hashA, SuspendedLogin: true},
		{Address: "info@alice.test", Account: "alice", PasswordHash: hashB},
	} {
		checkErr(t, "CreateMailbox("+m.Address+")", d.CreateMailbox(ctx, m), store.ErrExists, "")
	}
	if m := getMailbox(t, d, "info@alice.test"); m != orig || m.PasswordHash != hashB {
		t.Errorf("mailbox after refused creations: %+v, was %+v", m, orig)
	}
	if gen(t, d) != g {
		t.Error("refused creations moved the generation")
	}
}

func (s suite) testMailboxLifecycle(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := s.fixtureDir(t)
	m := getMailbox(t, d, "INFO@alice.test")
	created := m.CreatedAt

	// Replace keeps CreatedAt; an identical put is a no-op.
	g := gen(t, d)
	must(t, d.PutMailbox(ctx, store.Mailbox{Address: "info@alice.test", Account: "alice", PasswordHash: hashB}))
	if gen(t, d) != g {
		t.Error("identical PutMailbox moved the generation")
	}
	must(t, d.PutMailbox(ctx, store.Mailbox{Address: "info@alice.test", Account: "alice", PasswordHash: hashA, SuspendedLogin: true, Quota: 5 << 20, CreatedAt: time.Unix(5, 0)}))
	m = getMailbox(t, d, "info@alice.test")
	if !m.CreatedAt.Equal(created) || m.PasswordHash != hashA || !m.SuspendedLogin || m.Quota != 5<<20 {
		t.Errorf("after replace: %+v (created %v)", m, created)
	}
	if gen(t, d) != g+1 {
		t.Error("replacing PutMailbox did not move the generation by one")
	}

	must(t, d.CreateMailbox(ctx, store.Mailbox{Address: "b@shop.alice.test", Account: "alice"}))
	must(t, d.CreateAccount(ctx, store.Account{User: "frank", Domains: []string{"frank.test"}}))
	must(t, d.CreateMailbox(ctx, store.Mailbox{Address: "a@frank.test", Account: "frank"}))

	for _, tc := range []struct {
		account string
		want    []string
		err     error
	}{
		{"", []string{"a@frank.test", "b@shop.alice.test", "info@alice.test"}, nil},
		{"alice", []string{"b@shop.alice.test", "info@alice.test"}, nil},
		{"FRANK", []string{"a@frank.test"}, nil},
		{"bob", nil, nil},
		{"nobody", nil, store.ErrNotFound},
		{"root", nil, store.ErrNotFound},
	} {
		list, err := d.ListMailboxes(ctx, tc.account)
		checkErr(t, "ListMailboxes("+tc.account+")", err, tc.err, "")
		var got []string
		for _, m := range list {
			got = append(got, m.Address)
			if one := getMailbox(t, d, m.Address); one != m {
				t.Errorf("ListMailboxes has %+v, GetMailbox %+v", m, one)
			}
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("ListMailboxes(%q) = %v, want %v", tc.account, got, tc.want)
		}
	}

	g = gen(t, d)
	must(t, d.RemoveMailbox(ctx, "B@shop.alice.test"))
	if gen(t, d) != g+1 {
		t.Error("RemoveMailbox did not move the generation by one")
	}
	checkErr(t, "remove again", d.RemoveMailbox(ctx, "b@shop.alice.test"), store.ErrNotFound, "")
	checkErr(t, "remove invalid", d.RemoveMailbox(ctx, "not an address"), store.ErrNotFound, "")
	if gen(t, d) != g+1 {
		t.Error("failed removals moved the generation")
	}
	if _, err := d.GetMailbox(ctx, "b@shop.alice.test"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("removed mailbox: %v", err)
	}
	// The address is free again, and shop.alice.test can be dropped now.
	must(t, d.CreateMailbox(ctx, store.Mailbox{Address: "b@shop.alice.test", PasswordHash: hashB}))
	must(t, d.RemoveMailbox(ctx, "b@shop.alice.test"))
	_, err := d.UpdateAccount(ctx, "alice", func(a *store.Account) error { a.Domains = a.Domains[:1]; return nil })
	must(t, err)
	_, err = d.GetMailbox(ctx, "nobody@alice.test")
	checkErr(t, "GetMailbox(unknown)", err, store.ErrNotFound, "")
}

// testUpdateMailbox: the changes the old Set* methods made, through
// UpdateMailbox.
func (s suite) testUpdateMailbox(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := s.fixtureDir(t)
	orig := getMailbox(t, d, "info@alice.test")
	update := func(address string, fn func(m *store.Mailbox)) func() error {
		return func() error {
			got, err := d.UpdateMailbox(ctx, address, func(m *store.Mailbox) error { fn(m); return nil })
			if err == nil {
				if stored := getMailbox(t, d, address); got != stored {
					t.Errorf("UpdateMailbox returned %+v, GetMailbox %+v", got, stored)
				}
			}
			return err
		}
	}
	for _, tc := range []struct {
		name    string
		call    func() error
		want    error
		changes bool
		check   func(m store.Mailbox) bool
	}{
		{"suspend", update("INFO@alice.test", func(m *store.Mailbox) { m.SuspendedLogin = true }), nil, true,
			func(m store.Mailbox) bool { return m.SuspendedLogin }},
		{"suspend again", update("info@alice.test", func(m *store.Mailbox) { m.SuspendedLogin = true }), nil, false,
			func(m store.Mailbox) bool { return m.SuspendedLogin }},
		{"unsuspend", update("info@alice.test", func(m *store.Mailbox) { m.SuspendedLogin = false }), nil, true,
			func(m store.Mailbox) bool { return !m.SuspendedLogin }},
		{"suspend unknown", update("x@alice.test", func(m *store.Mailbox) { m.SuspendedLogin = true }), store.ErrNotFound, false, nil},
		{"password", update("info@alice.test", func(m *store.Mailbox) { m.PasswordHash = hashA }), nil, true,
			func(m store.Mailbox) bool { return m.PasswordHash == hashA }},
		{"same password", update("info@alice.test", func(m *store.Mailbox) { m.PasswordHash = hashA }), nil, false,
			func(m store.Mailbox) bool { return m.PasswordHash == hashA }},
		{"bad password", update("info@alice.test", func(m *store.Mailbox) { m.PasswordHash = "a\tb" }), store.ErrInvalid, false,
			func(m store.Mailbox) bool { return m.PasswordHash == hashA }},
		{"password unknown", update("x@alice.test", func(m *store.Mailbox) { m.PasswordHash = hashB }), store.ErrNotFound, false, nil},
		{"readdress", update("info@alice.test", func(m *store.Mailbox) { m.Address = "sales@alice.test" }), store.ErrInvalid, false,
			func(m store.Mailbox) bool { return m.Address == "info@alice.test" }},
		{"move to another account", update("info@alice.test", func(m *store.Mailbox) { m.Account = "bob" }), store.ErrInvalid, false,
			func(m store.Mailbox) bool { return m.Account == "alice" }},
		{"quota", update("info@alice.test", func(m *store.Mailbox) { m.Quota = 1 << 30 }), nil, true,
			func(m store.Mailbox) bool { return m.Quota == 1<<30 }},
		{"same quota", update("info@alice.test", func(m *store.Mailbox) { m.Quota = 1 << 30 }), nil, false,
			func(m store.Mailbox) bool { return m.Quota == 1<<30 }},
		{"negative quota", update("info@alice.test", func(m *store.Mailbox) { m.Quota = -5 }), store.ErrInvalid, false,
			func(m store.Mailbox) bool { return m.Quota == 1<<30 }},
		{"unlimited quota", update("info@alice.test", func(m *store.Mailbox) { m.Quota = 0 }), nil, true,
			func(m store.Mailbox) bool { return m.Quota == 0 }},
		{"CreatedAt is kept", update("info@alice.test", func(m *store.Mailbox) { m.CreatedAt = time.Unix(5, 0) }), nil, false,
			func(m store.Mailbox) bool { return m.CreatedAt.Equal(orig.CreatedAt) }},
		{"CreatedAt is kept on a change", update("info@alice.test", func(m *store.Mailbox) { m.CreatedAt, m.SuspendedLogin = time.Unix(5, 0), true }), nil, true,
			func(m store.Mailbox) bool { return m.CreatedAt.Equal(orig.CreatedAt) && m.SuspendedLogin }},
	} {
		g := gen(t, d)
		checkErr(t, tc.name, tc.call(), tc.want, "")
		if moved := gen(t, d) != g; moved != tc.changes {
			t.Errorf("%s: generation moved = %v, want %v", tc.name, moved, tc.changes)
		}
		if tc.check != nil {
			if m := getMailbox(t, d, "info@alice.test"); !tc.check(m) {
				t.Errorf("%s: mailbox is %+v", tc.name, m)
			}
		}
	}
	if _, err := d.GetMailbox(ctx, "sales@alice.test"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a refused readdress created sales@alice.test: %v", err)
	}

	// An error from the function is returned as it is and changes nothing.
	before := getMailbox(t, d, "info@alice.test")
	g := gen(t, d)
	errAbort := errors.New("storetest: abort")
	_, err := d.UpdateMailbox(ctx, "info@alice.test", func(m *store.Mailbox) error {
		m.PasswordHash, m.SuspendedLogin = hashB, true
		return errAbort
	})
	if err != errAbort {
		t.Errorf("UpdateMailbox returned %v, want the function's error as it is", err)
	}
	if m := getMailbox(t, d, "info@alice.test"); m != before {
		t.Errorf("aborted UpdateMailbox changed %+v to %+v", before, m)
	}
	ran := false
	_, err = d.UpdateMailbox(ctx, "nobody@alice.test", func(m *store.Mailbox) error { ran = true; return nil })
	checkErr(t, "UpdateMailbox(unknown)", err, store.ErrNotFound, "")
	if ran {
		t.Error("UpdateMailbox ran its function for an unknown address")
	}
	if gen(t, d) != g {
		t.Error("failed UpdateMailbox calls moved the generation")
	}
}

// testTokenValidation checks the rules on a token through CreateToken, then
// through PutToken (refused alike; a stored token stored again without a
// change).
func (s suite) testTokenValidation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := newTokenHash()
	h512 := tokenHash512(newTokenSecret())
	for _, tc := range []struct {
		name string
		tok  store.Token
		want error
		msg  string
	}{
		{"ok", store.Token{User: "bob", Name: "deploy", Hash: h}, nil, ""},
		{"root", store.Token{User: "ROOT", Name: "deploy", Hash: h}, nil, ""},
		{"upper user", store.Token{User: "Bob", Name: "deploy", Hash: h}, nil, ""},
		{"mixed-case name", store.Token{User: "bob", Name: "Deploy_2-x", Hash: h}, nil, ""},
		{"SHA-512", store.Token{User: "bob", Name: "cpanel", Hash: h512}, nil, ""},
		{"with expiry and allow-list", store.Token{User: "bob", Name: "x", Hash: h, ExpiresAt: dirT0,
			AllowIPs: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24"), netip.MustParsePrefix("2001:db8::/32")}}, nil, ""},
		{"another user's secret", store.Token{User: "bob", Name: "ci", Hash: tokenHash(aliceSecret)}, nil, ""},
		{"unknown user", store.Token{User: "nobody", Name: "x", Hash: h}, store.ErrNotFound, "account “nobody” does not exist"},
		{"invalid user", store.Token{User: "no body", Name: "x", Hash: h}, store.ErrNotFound, "account “no body” does not exist"},
		{"bad name", store.Token{User: "bob", Name: "a b", Hash: h}, store.ErrInvalid, "“a b” is not a valid token name"},
		{"empty name", store.Token{User: "bob", Name: "", Hash: h}, store.ErrInvalid, "is not a valid token name"},
		{"short hash", store.Token{User: "bob", Name: "x", Hash: h[:31]}, store.ErrInvalid, "hash of token “x” is neither a SHA-256 nor a SHA-512"},
		{"SHA-384-sized hash", store.Token{User: "bob", Name: "x", Hash: h512[:48]}, store.ErrInvalid, "hash of token “x” is neither a SHA-256 nor a SHA-512"},
		{"no hash", store.Token{User: "bob", Name: "x"}, store.ErrInvalid, "hash of token “x” is neither a SHA-256 nor a SHA-512"},
		{"bad prefix", store.Token{User: "bob", Name: "x", Hash: h, AllowIPs: []netip.Prefix{{}}}, store.ErrInvalid, "invalid address prefix"},
		{"same secret as another token", store.Token{User: "alice", Name: "other", Hash: tokenHash(aliceSecret)}, store.ErrExists, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := s.fixtureDir(t)
			g := gen(t, d)
			before, err := d.ListTokens(ctx, "")
			must(t, err)
			err = d.CreateToken(ctx, tc.tok)
			checkErr(t, "CreateToken", err, tc.want, tc.msg)
			if err != nil && strings.Contains(err.Error(), hex.EncodeToString(tc.tok.Hash)) && len(tc.tok.Hash) > 0 {
				t.Errorf("CreateToken: message %q shows the hash", err)
			}
			if moved := gen(t, d) != g; moved != (err == nil) {
				t.Errorf("generation moved = %v with error %v", moved, err)
			}
			if err != nil {
				checkErr(t, "PutToken", d.PutToken(ctx, tc.tok), tc.want, tc.msg)
				after, err := d.ListTokens(ctx, "")
				must(t, err)
				if fmt.Sprint(before) != fmt.Sprint(after) {
					t.Errorf("refused token changed the tokens:\n%v\n%v", before, after)
				}
				if gen(t, d) != g {
					t.Error("refused token moved the generation")
				}
				return
			}
			got, err := d.TokenByHash(ctx, tc.tok.User, tc.tok.Hash)
			must(t, err)
			if got.User != strings.ToLower(tc.tok.User) || got.Name != tc.tok.Name || !bytes.Equal(got.Hash, tc.tok.Hash) ||
				!got.ExpiresAt.Equal(tc.tok.ExpiresAt) || fmt.Sprint(got.AllowIPs) != fmt.Sprint(tc.tok.AllowIPs) || got.CreatedAt.IsZero() {
				t.Errorf("TokenByHash = %+v, created %+v", got, tc.tok)
			}
			// Another user's token with the same secret is a different token.
			other := "alice"
			if got.User == "alice" {
				other = "bob"
			}
			if _, err := d.TokenByHash(ctx, other, tc.tok.Hash); !errors.Is(err, store.ErrNotFound) && !bytes.Equal(tc.tok.Hash, tokenHash(aliceSecret)) {
				t.Errorf("TokenByHash found the token under %s: %v", other, err)
			}
			must(t, d.PutToken(ctx, tc.tok))
			if gen(t, d) != g+1 {
				t.Error("PutToken of the stored token moved the generation")
			}
			again, err := d.TokenByHash(ctx, tc.tok.User, tc.tok.Hash)
			must(t, err)
			if fmt.Sprint(again) != fmt.Sprint(got) {
				t.Errorf("PutToken of the stored token changed it: %+v -> %+v", got, again)
			}
		})
	}
}

// testCreateTokenExists: creation is create-only.
func (s suite) testCreateTokenExists(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := s.fixtureDir(t)
	g := gen(t, d)
	before, err := d.ListTokens(ctx, "")
	must(t, err)
	other := newTokenHash()
	for _, tok := range []store.Token{
		{User: "alice", Name: "ci", Hash: other},
		{User: "ALICE", Name: "ci", Hash: other, ExpiresAt: dirT0},
		{User: "alice", Name: "ci", Hash: tokenHash(aliceSecret)},
		{User: "root", Name: "billing", Hash: other},
		{User: "alice", Name: "second", Hash: tokenHash(aliceSecret)},
	} {
		checkErr(t, "CreateToken("+tok.User+"/"+tok.Name+")", d.CreateToken(ctx, tok), store.ErrExists, "")
	}
	after, err := d.ListTokens(ctx, "")
	must(t, err)
	if fmt.Sprint(before) != fmt.Sprint(after) {
		t.Errorf("refused creations changed the tokens:\n%v\n%v", before, after)
	}
	if gen(t, d) != g {
		t.Error("refused creations moved the generation")
	}
	if tok, err := d.TokenByHash(ctx, "alice", tokenHash(aliceSecret)); err != nil || tok.Name != "ci" || !tok.ExpiresAt.IsZero() {
		t.Errorf("alice's ci after refused creations: %+v, %v", tok, err)
	}
	if tok, err := d.TokenByHash(ctx, "root", tokenHash(rootSecret)); err != nil || tok.Name != "billing" {
		t.Errorf("root's billing after refused creations: %+v, %v", tok, err)
	}
	for _, user := range []string{"alice", "root"} {
		if _, err := d.TokenByHash(ctx, user, other); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("a refused token's hash is found under %s: %v", user, err)
		}
	}
}

// testTokenSHA512: hashes carried over from cPanel (SHA-512) are stored and
// found whole, never by a prefix.
func (s suite) testTokenSHA512(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := s.fixtureDir(t)
	secret := newTokenSecret()
	h512 := tokenHash512(secret)
	must(t, d.CreateToken(ctx, store.Token{User: "bob", Name: "legacy", Hash: h512}))
	got, err := d.TokenByHash(ctx, "bob", h512)
	must(t, err)
	if got.Name != "legacy" || !bytes.Equal(got.Hash, h512) {
		t.Errorf("TokenByHash(SHA-512) = %+v", got)
	}
	for name, h := range map[string][]byte{
		"first half":          h512[:32],
		"SHA-256 of the same": tokenHash(secret),
		"longer":              append(slices.Clone(h512), 0),
	} {
		if _, err := d.TokenByHash(ctx, "bob", h); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("TokenByHash(%s): %v, want ErrNotFound", name, err)
		}
	}
	// A SHA-256 token with the first half of the SHA-512 as its hash is
	// another token.
	must(t, d.CreateToken(ctx, store.Token{User: "bob", Name: "half", Hash: h512[:32]}))
	if got, err := d.TokenByHash(ctx, "bob", h512[:32]); err != nil || got.Name != "half" {
		t.Errorf("TokenByHash(first half) = %+v, %v; want half", got, err)
	}
	list, err := d.ListTokens(ctx, "bob")
	must(t, err)
	if len(list) != 2 || list[1].Name != "legacy" || len(list[1].Hash) != 64 {
		t.Errorf("ListTokens(bob) = %+v", list)
	}
	// Replacing a SHA-512 token by a SHA-256 one (and back) works.
	h256 := newTokenHash()
	must(t, d.PutToken(ctx, store.Token{User: "bob", Name: "legacy", Hash: h256}))
	if _, err := d.TokenByHash(ctx, "bob", h512); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("replaced SHA-512 hash still found: %v", err)
	}
	if got, err := d.TokenByHash(ctx, "bob", h256); err != nil || got.Name != "legacy" {
		t.Errorf("TokenByHash after replace = %+v, %v", got, err)
	}
}

func (s suite) testTokenLifecycle(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := s.fixtureDir(t)
	old, err := d.TokenByHash(ctx, "alice", tokenHash(aliceSecret))
	must(t, err)

	// Identical put: no change. Replacing the secret keeps CreatedAt.
	g := gen(t, d)
	must(t, d.PutToken(ctx, store.Token{User: "alice", Name: "ci", Hash: tokenHash(aliceSecret)}))
	if gen(t, d) != g {
		t.Error("identical PutToken moved the generation")
	}
	newSecret := newTokenSecret()
	exp := dirT0.Add(time.Hour)
	allow := []netip.Prefix{netip.MustParsePrefix("198.51.100.7/32")}
	must(t, d.PutToken(ctx, store.Token{User: "alice", Name: "ci", Hash: tokenHash(newSecret), ExpiresAt: exp, AllowIPs: allow, CreatedAt: time.Unix(5, 0)}))
	if gen(t, d) != g+1 {
		t.Error("replacing PutToken did not move the generation by one")
	}
	if _, err := d.TokenByHash(ctx, "alice", tokenHash(aliceSecret)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("old secret still works: %v", err)
	}
	tok, err := d.TokenByHash(ctx, "ALICE", tokenHash(newSecret))
	must(t, err)
	if !tok.CreatedAt.Equal(old.CreatedAt) || !tok.ExpiresAt.Equal(exp) || !slices.Equal(tok.AllowIPs, allow) {
		t.Errorf("replaced token = %+v, old created %v", tok, old.CreatedAt)
	}
	// The old secret is free again for another token of alice.
	must(t, d.CreateToken(ctx, store.Token{User: "alice", Name: "b", Hash: tokenHash(aliceSecret)}))
	must(t, d.CreateToken(ctx, store.Token{User: "bob", Name: "a", Hash: newTokenHash()}))

	for _, tc := range []struct {
		user string
		want []string
		err  error
	}{
		{"", []string{"alice/b", "alice/ci", "bob/a", "root/billing"}, nil},
		{"alice", []string{"alice/b", "alice/ci"}, nil},
		{"ALICE", []string{"alice/b", "alice/ci"}, nil},
		{"root", []string{"root/billing"}, nil},
		{"res", nil, nil},
		{"nobody", nil, store.ErrNotFound},
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
	checkErr(t, "revoke unknown", d.RevokeToken(ctx, "alice", "nope"), store.ErrNotFound, "nope")
	checkErr(t, "revoke other user's", d.RevokeToken(ctx, "bob", "ci"), store.ErrNotFound, "")
	checkErr(t, "revoke of unknown user", d.RevokeToken(ctx, "nobody", "ci"), store.ErrNotFound, "")
	if gen(t, d) != g {
		t.Error("failed revocations moved the generation")
	}
	must(t, d.RevokeToken(ctx, "Alice", "ci"))
	if gen(t, d) != g+1 {
		t.Error("revocation did not move the generation by one")
	}
	if _, err := d.TokenByHash(ctx, "alice", tokenHash(newSecret)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("revoked token still found: %v", err)
	}
	if _, err := d.TokenByHash(ctx, "alice", nil); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("nil hash: %v", err)
	}
	if _, err := d.TokenByHash(ctx, "nobody", tokenHash(aliceSecret)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("TokenByHash of an unknown user: %v", err)
	}
	// The name is free again.
	must(t, d.CreateToken(ctx, store.Token{User: "alice", Name: "ci", Hash: newTokenHash()}))
}

func (s suite) testCanceledContext(t *testing.T) {
	t.Parallel()
	d := s.fixtureDir(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	bg := context.Background()
	g := gen(t, d)
	if err := d.CreateAccount(ctx, store.Account{User: "zed"}); err == nil {
		t.Error("CreateAccount with a canceled context succeeded")
	}
	if err := d.PutAccount(ctx, store.Account{User: "zed"}); err == nil {
		t.Error("PutAccount with a canceled context succeeded")
	}
	if _, err := d.GetAccount(bg, "zed"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("zed exists after a canceled creation: %v", err)
	}
	if _, err := d.UpdateAccount(ctx, "bob", func(a *store.Account) error { a.PasswordHash = hashA; return nil }); err == nil {
		t.Error("UpdateAccount with a canceled context succeeded")
	}
	if a := getAccount(t, d, "bob"); a.PasswordHash != hashB {
		t.Errorf("a canceled UpdateAccount changed bob: %+v", a)
	}
	if err := d.CreateMailbox(ctx, store.Mailbox{Address: "zed@bob.test"}); err == nil {
		t.Error("CreateMailbox with a canceled context succeeded")
	}
	if err := d.CreateToken(ctx, store.Token{User: "bob", Name: "zed", Hash: newTokenHash()}); err == nil {
		t.Error("CreateToken with a canceled context succeeded")
	}
	if err := d.RemoveAccount(ctx, "bob"); err == nil {
		t.Error("RemoveAccount with a canceled context succeeded")
	}
	if gen(t, d) != g {
		t.Error("canceled calls moved the generation")
	}
}
