package storetest

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/uapid/uapid/internal/store"
)

// Tests of the account limits and reseller ACLs, the mailbox limit, the
// renaming of accounts (Directory) and of store.Packages.

func (s suite) limitTests() []namedTest {
	return []namedTest{
		{"AccountLimitsACLs", s.testAccountLimitsACLs},
		{"MailboxLimit", s.testMailboxLimit},
		{"RenameAccount", s.testRenameAccount},
		{"RenameMainDomain", s.testRenameMainDomain},
		{"RenameRefusals", s.testRenameRefusals},
	}
}

func (s suite) packageTests() []namedTest {
	return []namedTest{
		{"PackageLifecycle", s.testPackageLifecycle},
		{"PackageValidation", s.testPackageValidation},
		{"ACLLists", s.testACLLists},
		{"ResellerPackagesFollowTheReseller", s.testResellerPackages},
	}
}

var gold = store.Limits{Quota: store.LimitOf(1024), BWLimit: store.LimitOf(0), MaxPOP: store.LimitOf(2),
	MaxSQL: store.LimitOf(5), MaxFTP: store.LimitOf(3), CGI: true, HasShell: true, FeatureList: "default", Theme: "jupiter"}

func (s suite) testAccountLimitsACLs(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := s.fixtureDir(t)
	a := store.Account{User: "zed", PasswordHash: hashA, Domains: []string{"zed.test"}, Reseller: true,
		Limits: gold, ACLs: []string{"suspend-acct", "create-acct", "create-acct"}}
	must(t, d.CreateAccount(ctx, a))
	got := getAccount(t, d, "zed")
	if got.Limits != gold {
		t.Errorf("Limits = %+v, want %+v", got.Limits, gold)
	}
	if !slices.Equal(got.ACLs, []string{"create-acct", "suspend-acct"}) {
		t.Errorf("ACLs = %q, want sorted and unique", got.ACLs)
	}
	if l := listAccounts(t, d); !slices.ContainsFunc(l, func(x store.Account) bool { return sameAccount(x, got) }) {
		t.Errorf("ListAccounts does not hold %+v", got)
	}
	// Demoting drops the ACLs; an invalid name is refused.
	upd, err := d.UpdateAccount(ctx, "zed", func(a *store.Account) error { a.Reseller = false; a.Limits.MaxPOP = store.Unlimited; return nil })
	must(t, err)
	if upd.ACLs != nil || getAccount(t, d, "zed").ACLs != nil || getAccount(t, d, "zed").Limits.MaxPOP != store.Unlimited {
		t.Errorf("after demotion: %+v", getAccount(t, d, "zed"))
	}
	_, err = d.UpdateAccount(ctx, "res", func(a *store.Account) error { a.ACLs = []string{"Create Acct"}; return nil })
	checkErr(t, "bad ACL name", err, store.ErrInvalid, "privilege")
	_, err = d.UpdateAccount(ctx, "res", func(a *store.Account) error { a.Limits.Quota = store.Limit{N: -5, Limited: true}; return nil })
	checkErr(t, "negative limit", err, store.ErrInvalid, "negative")
}

func (s suite) testMailboxLimit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := s.fixtureDir(t)
	// alice has one mailbox; a limit of 2 lets one more in.
	_, err := d.UpdateAccount(ctx, "alice", func(a *store.Account) error { a.Limits.MaxPOP = store.LimitOf(2); return nil })
	must(t, err)
	must(t, d.CreateMailbox(ctx, store.Mailbox{Address: "two@alice.test", PasswordHash: hashA}))
	err = d.CreateMailbox(ctx, store.Mailbox{Address: "three@alice.test", PasswordHash: hashA})
	checkErr(t, "third mailbox", err, store.ErrInvalid, "alice")
	if store.FieldOf(err) != "maxpop" {
		t.Errorf("Field = %q, want maxpop", store.FieldOf(err))
	}
	// A limit of 0 allows none; unlimited allows any.
	must(t, d.CreateAccount(ctx, store.Account{User: "nomail", Domains: []string{"nomail.test"}, Limits: store.Limits{MaxPOP: store.LimitOf(0)}}))
	if err := d.CreateMailbox(ctx, store.Mailbox{Address: "a@nomail.test", PasswordHash: hashA}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("MAXPOP 0: %v, want ErrInvalid", err)
	}
	for _, l := range []string{"x", "y", "z"} {
		must(t, d.CreateMailbox(ctx, store.Mailbox{Address: l + "@bob.test", PasswordHash: hashA}))
	}
}

func (s suite) testRenameAccount(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := s.fixtureDir(t)
	must(t, d.CreateAccount(ctx, store.Account{User: "carol", Domains: []string{"carol.test"}, Owner: "res"}))
	g0 := gen(t, d)
	// Rename the reseller "res" (owner of alice and carol) and alice.
	got, err := d.RenameAccount(ctx, "res", store.Rename{User: "seller"}, func(a *store.Account) error {
		if a.User != "seller" {
			t.Errorf("fn sees user %q", a.User)
		}
		a.ContactEmail = "seller@example.com"
		return nil
	})
	must(t, err)
	if got.User != "seller" || got.Owner != "root" || got.ContactEmail != "seller@example.com" {
		t.Errorf("renamed reseller = %+v", got)
	}
	if gen(t, d) == g0 {
		t.Error("the generation did not move")
	}
	if _, err := d.GetAccount(ctx, "res"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("old name: %v, want ErrNotFound", err)
	}
	for _, u := range []string{"alice", "carol"} {
		if o := getAccount(t, d, u).Owner; o != "seller" {
			t.Errorf("owner of %s = %q, want seller", u, o)
		}
	}
	if o, _ := d.DomainOwner(ctx, "res.test"); o != "seller" {
		t.Errorf("res.test belongs to %q", o)
	}
	a, err := d.RenameAccount(ctx, "alice", store.Rename{User: "alicia"}, nil)
	must(t, err)
	if !slices.Equal(a.Databases, []string{"alicia_wp"}) || !slices.Equal(a.Domains, []string{"alice.test", "shop.alice.test"}) {
		t.Errorf("renamed alice = %+v", a)
	}
	if m, err := d.GetMailbox(ctx, "info@alice.test"); err != nil || m.Account != "alicia" {
		t.Errorf("mailbox after rename: %+v, %v", m, err)
	}
	if tok, err := d.TokenByHash(ctx, "alicia", tokenHash(aliceSecret)); err != nil || tok.Name != "ci" {
		t.Errorf("token after rename: %+v, %v", tok, err)
	}
	if _, err := d.TokenByHash(ctx, "alice", tokenHash(aliceSecret)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("token under the old name: %v", err)
	}
	if ms, err := d.ListMailboxes(ctx, "alicia"); err != nil || len(ms) != 1 {
		t.Errorf("mailboxes of alicia: %v, %v", ms, err)
	}
}

func (s suite) testRenameMainDomain(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := s.fixtureDir(t)
	a, err := d.RenameAccount(ctx, "alice", store.Rename{Domain: "Alice.Example"}, nil)
	must(t, err)
	if !slices.Equal(a.Domains, []string{"alice.example", "shop.alice.test"}) {
		t.Errorf("domains = %q", a.Domains)
	}
	if _, err := d.GetMailbox(ctx, "info@alice.test"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("mailbox at the old domain: %v", err)
	}
	if m, err := d.GetMailbox(ctx, "info@alice.example"); err != nil || m.Account != "alice" {
		t.Errorf("mailbox at the new domain: %+v, %v", m, err)
	}
	if _, err := d.DomainOwner(ctx, "alice.test"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("old domain still owned: %v", err)
	}
	// Both at once.
	b, err := d.RenameAccount(ctx, "bob", store.Rename{User: "robert", Domain: "robert.test"}, nil)
	must(t, err)
	if b.User != "robert" || !slices.Equal(b.Domains, []string{"robert.test"}) {
		t.Errorf("bob renamed = %+v", b)
	}
}

func (s suite) testRenameRefusals(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := s.fixtureDir(t)
	before := listAccounts(t, d)
	g0 := gen(t, d)
	_, err := d.RenameAccount(ctx, "alice", store.Rename{User: "bob"}, nil)
	checkErr(t, "taken user", err, store.ErrExists, "bob")
	if store.FieldOf(err) != "user" {
		t.Errorf("Field = %q, want user", store.FieldOf(err))
	}
	_, err = d.RenameAccount(ctx, "alice", store.Rename{Domain: "bob.test"}, nil)
	checkErr(t, "taken domain", err, store.ErrExists, "bob.test")
	_, err = d.RenameAccount(ctx, "alice", store.Rename{User: "Not valid"}, nil)
	checkErr(t, "bad user", err, store.ErrInvalid, "valid")
	_, err = d.RenameAccount(ctx, "nobody", store.Rename{User: "x"}, nil)
	checkErr(t, "unknown", err, store.ErrNotFound, "nobody")
	// A failing function undoes the rename.
	boom := errors.New("boom")
	if _, err := d.RenameAccount(ctx, "alice", store.Rename{User: "alicia", Domain: "alicia.test"}, func(*store.Account) error { return boom }); err != boom {
		t.Errorf("fn error: %v", err)
	}
	if !sameAccounts(listAccounts(t, d), before) || gen(t, d) != g0 {
		t.Error("a failed rename changed the directory")
	}
	if _, err := d.GetMailbox(ctx, "info@alice.test"); err != nil {
		t.Errorf("mailbox after a failed rename: %v", err)
	}
}

func (s suite) packages(t testing.TB) (store.Directory, store.Packages) {
	t.Helper()
	h := s.b.New(t)
	if h.Dir == nil || h.Packages == nil {
		t.Fatal("Backend.New returned no Directory or Packages this time")
	}
	return h.Dir, h.Packages
}

func (s suite) testPackageLifecycle(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, p := s.packages(t)
	pkg := store.Package{Name: "Gold Plan", Limits: gold, Language: "de", CreatedAt: dirT0}
	must(t, p.CreatePackage(ctx, pkg))
	err := p.CreatePackage(ctx, store.Package{Name: "Gold Plan"})
	checkErr(t, "exists", err, store.ErrExists, "Gold Plan")
	got, err := p.GetPackage(ctx, "Gold Plan")
	must(t, err)
	pkg.Owner = "root"
	if got.Name != pkg.Name || got.Owner != "root" || got.Limits != gold || got.Language != "de" || !got.CreatedAt.Equal(dirT0) {
		t.Errorf("GetPackage = %+v", got)
	}
	if _, err := p.GetPackage(ctx, "gold plan"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("names are case-sensitive: %v", err)
	}
	must(t, p.CreatePackage(ctx, store.Package{Name: "basic"}))
	l, err := p.ListPackages(ctx)
	must(t, err)
	if len(l) != 2 || l[0].Name != "Gold Plan" || l[1].Name != "basic" {
		t.Errorf("ListPackages = %+v", l)
	}
	upd, err := p.UpdatePackage(ctx, "basic", func(x *store.Package) error { x.Limits.MaxPOP = store.LimitOf(10); return nil })
	must(t, err)
	if upd.Limits.MaxPOP != store.LimitOf(10) {
		t.Errorf("UpdatePackage = %+v", upd)
	}
	_, err = p.UpdatePackage(ctx, "basic", func(x *store.Package) error { x.Owner = "res"; return nil })
	checkErr(t, "owner change", err, store.ErrInvalid, "cannot change")
	_, err = p.UpdatePackage(ctx, "nope", func(*store.Package) error { return nil })
	checkErr(t, "update unknown", err, store.ErrNotFound, "nope")
	must(t, p.RemovePackage(ctx, "basic"))
	checkErr(t, "remove twice", p.RemovePackage(ctx, "basic"), store.ErrNotFound, "basic")
}

func (s suite) testPackageValidation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d, p := s.packages(t)
	for _, name := range []string{"", " lead", "trail ", ".dot", "a/b", "x\n"} {
		checkErr(t, "name "+name, p.CreatePackage(ctx, store.Package{Name: name}), store.ErrInvalid, "package name")
	}
	checkErr(t, "owner unknown", p.CreatePackage(ctx, store.Package{Name: "x_p", Owner: "x"}), store.ErrInvalid, "reseller")
	must(t, d.CreateAccount(ctx, store.Account{User: "plain", Domains: []string{"plain.test"}}))
	checkErr(t, "owner not reseller", p.CreatePackage(ctx, store.Package{Name: "plain_p", Owner: "plain"}), store.ErrInvalid, "reseller")
}

func (s suite) testACLLists(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, p := s.packages(t)
	must(t, p.PutACLList(ctx, store.ACLList{Name: "billing", ACLs: []string{"suspend-acct", "create-acct"}}))
	must(t, p.PutACLList(ctx, store.ACLList{Name: "billing", ACLs: []string{"list-accts"}}))
	must(t, p.PutACLList(ctx, store.ACLList{Name: "empty"}))
	l, err := p.ListACLLists(ctx)
	must(t, err)
	if len(l) != 2 || l[0].Name != "billing" || !slices.Equal(l[0].ACLs, []string{"list-accts"}) || l[1].Name != "empty" || len(l[1].ACLs) != 0 {
		t.Errorf("ListACLLists = %+v", l)
	}
	checkErr(t, "bad name", p.PutACLList(ctx, store.ACLList{Name: "a b"}), store.ErrInvalid, "ACL list")
	checkErr(t, "bad acl", p.PutACLList(ctx, store.ACLList{Name: "x", ACLs: []string{"A,B"}}), store.ErrInvalid, "privilege")
}

func (s suite) testResellerPackages(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d, p := s.packages(t)
	must(t, d.CreateAccount(ctx, store.Account{User: "res", Domains: []string{"res.test"}, Reseller: true}))
	must(t, d.CreateAccount(ctx, store.Account{User: "cust", Domains: []string{"cust.test"}, Owner: "res", Plan: "res_gold"}))
	must(t, p.CreatePackage(ctx, store.Package{Name: "res_gold", Owner: "res", Limits: gold}))
	must(t, p.CreatePackage(ctx, store.Package{Name: "global", Limits: gold}))
	if _, err := d.RenameAccount(ctx, "res", store.Rename{User: "shop"}, nil); err != nil {
		t.Fatal(err)
	}
	got, err := p.GetPackage(ctx, "shop_gold")
	if err != nil || got.Owner != "shop" {
		t.Errorf("renamed package: %+v, %v", got, err)
	}
	if plan := getAccount(t, d, "cust").Plan; plan != "shop_gold" {
		t.Errorf("plan of cust = %q, want shop_gold", plan)
	}
	must(t, d.RemoveAccount(ctx, "cust"))
	must(t, d.RemoveAccount(ctx, "shop"))
	l, err := p.ListPackages(ctx)
	must(t, err)
	if len(l) != 1 || l[0].Name != "global" {
		t.Errorf("after removing the reseller: %+v", l)
	}
}
