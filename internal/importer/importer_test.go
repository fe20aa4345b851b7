package importer_test

import (
	"bytes"
	"context"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/uapid/uapid/internal/accounts"
	"github.com/uapid/uapid/internal/importer"
	"github.com/uapid/uapid/internal/passwd"
	"github.com/uapid/uapid/internal/secretbox"
	"github.com/uapid/uapid/internal/store"
	"github.com/uapid/uapid/internal/store/sqlstore"
	"github.com/uapid/uapid/internal/store/sqlstore/pgtest"
)

func newDir(t *testing.T) store.Directory {
	t.Helper()
	db, err := sqlstore.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "uapid.db"), sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db.Directory()
}

// onEachStore runs test on a fresh SQLite store and on a fresh PostgreSQL
// schema.
func onEachStore(t *testing.T, test func(t *testing.T, d store.Directory)) {
	t.Run("SQLite", func(t *testing.T) { test(t, newDir(t)) })
	t.Run("PostgreSQL", func(t *testing.T) {
		box, err := secretbox.New(secretbox.NewKey(), nil)
		if err != nil {
			t.Fatal(err)
		}
		db, err := sqlstore.OpenPostgres(context.Background(), pgtest.Schema(t, pgtest.NewDatabase(t)), sqlstore.Options{Box: box})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		test(t, db.Directory())
	})
}

func hash(t *testing.T, pw string) string {
	t.Helper()
	h, err := passwd.Hash(pw)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func digest(secret string) []byte {
	h := sha512.Sum512([]byte(secret))
	return h[:]
}

var src = importer.Where{Path: "/srv/cpanel", File: "var/cpanel/users/x"}

// batch is a reseller "res" owning "alice" (listed first: the owner must
// still come first), with a mailbox and tokens, and root's token.
func batch(t *testing.T) importer.Batch {
	return importer.Batch{
		Accounts: []importer.Account{
			{
				Account: store.Account{User: "alice", PasswordHash: hash(t, "a"), Owner: "res", Plan: "gold",
					Domains: []string{"alice.test", "shop.test"}, Databases: []string{"alice_wp"},
					Suspended: true, SuspendReason: "Abuse", SuspendLocked: true, SuspendedAt: time.Unix(1700000000, 0),
					CreatedAt: time.Unix(1600000000, 0)},
				Source: src,
				Mailboxes: []importer.Mailbox{
					{Mailbox: store.Mailbox{Address: "info@alice.test", PasswordHash: hash(t, "m"), Quota: 1 << 20}, Source: src},
					{Mailbox: store.Mailbox{Address: "sales@shop.test", PasswordHash: hash(t, "s"), SuspendedLogin: true}, Source: src},
				},
				Tokens: []importer.Token{{Token: store.Token{Name: "ci", Hash: digest("ALICE"), CreatedAt: time.Unix(1650000000, 0)}, Source: src}},
			},
			{Account: store.Account{User: "res", PasswordHash: hash(t, "r"), Reseller: true, Domains: []string{"res.test"}}, Source: src,
				Tokens: []importer.Token{{Token: store.Token{Name: "whm", Hash: digest("RES")}, Source: src}}},
		},
		RootTokens: []importer.Token{{Token: store.Token{Name: "billing", Hash: digest("ROOT")}, Source: src}},
	}
}

func run(t *testing.T, d store.Directory, dry bool, bs ...importer.Batch) *importer.Report {
	t.Helper()
	im := importer.Importer{Dir: d, Accounts: &accounts.Service{Dir: d}, By: accounts.Actor{User: "root", Method: "test"}, DryRun: dry}
	rep, err := im.Run(context.Background(), bs...)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// status returns the status of item of kind (the last entry for it).
func status(r *importer.Report, k importer.Kind, item string) (importer.Status, string) {
	var s importer.Status
	var reason string
	for _, e := range r.Entries {
		if e.Kind == k && e.Item == item {
			s, reason = e.Status, e.Reason
		}
	}
	return s, reason
}

func text(t *testing.T, r *importer.Report) string {
	t.Helper()
	var b bytes.Buffer
	if err := r.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func counts(r *importer.Report) string {
	var parts []string
	for _, k := range importer.Kinds {
		c := r.Summary()[k]
		parts = append(parts, fmt.Sprintf("%s:%d/%d/%d/%d", k, c.Imported, c.Unchanged, c.Conflicts, c.Errors))
	}
	return strings.Join(parts, " ")
}

// TestImportThenAgain: everything comes over as it was (owner first),
// then a second import finds everything unchanged.
func TestImportThenAgain(t *testing.T) {
	onEachStore(t, func(t *testing.T, d store.Directory) {
		testImportThenAgain(t, d)
	})
}

func testImportThenAgain(t *testing.T, d store.Directory) {
	ctx := context.Background()
	b := batch(t)
	r := run(t, d, false, b)
	if got, want := counts(r), "account:2/0/0/0 domain:3/0/0/0 database:1/0/0/0 mailbox:2/0/0/0 token:3/0/0/0 file:0/0/0/0"; got != want || !r.OK() {
		t.Fatalf("first import %s, want %s\n%s", got, want, text(t, r))
	}
	alice, err := d.GetAccount(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	want, err := store.NormalizeAccount(b.Accounts[0].Account)
	if err != nil {
		t.Fatal(err)
	}
	if !store.SameAccount(alice, want) || !alice.CreatedAt.Equal(time.Unix(1600000000, 0)) {
		t.Errorf("alice = %+v", alice)
	}
	m, err := d.GetMailbox(ctx, "sales@shop.test")
	if err != nil || !m.SuspendedLogin || m.Account != "alice" || m.PasswordHash != b.Accounts[0].Mailboxes[1].PasswordHash {
		t.Errorf("sales = %+v, %v", m, err)
	}
	if m, _ := d.GetMailbox(ctx, "info@alice.test"); m.Quota != 1<<20 {
		t.Errorf("info's quota %d", m.Quota)
	}
	tk, err := d.TokenByHash(ctx, "alice", digest("ALICE"))
	if err != nil || tk.Name != "ci" || !tk.CreatedAt.Equal(time.Unix(1650000000, 0)) {
		t.Errorf("alice's token %+v, %v", tk, err)
	}
	if _, err := d.TokenByHash(ctx, "root", digest("ROOT")); err != nil {
		t.Errorf("root's token: %v", err)
	}
	g, _ := d.Generation(ctx)

	r = run(t, d, false, b)
	if got, want := counts(r), "account:0/2/0/0 domain:0/3/0/0 database:0/1/0/0 mailbox:0/2/0/0 token:0/3/0/0 file:0/0/0/0"; got != want || !r.OK() {
		t.Fatalf("second import %s, want %s\n%s", got, want, text(t, r))
	}
	if g2, _ := d.Generation(ctx); g2 != g {
		t.Error("a second import changed the directory")
	}
	// Unchanged items are counted, not listed.
	if out := text(t, r); strings.Contains(out, "alice") || !strings.Contains(out, "total") {
		t.Errorf("text of a second import:\n%s", out)
	}
}

// TestDryRun decides as an import would and changes nothing.
func TestDryRun(t *testing.T) {
	ctx := context.Background()
	d := newDir(t)
	if err := d.CreateAccount(ctx, store.Account{User: "bob", Domains: []string{"shop.test"}}); err != nil {
		t.Fatal(err)
	}
	g, _ := d.Generation(ctx)
	r := run(t, d, true, batch(t))
	if g2, _ := d.Generation(ctx); g2 != g {
		t.Fatal("a dry run changed the directory")
	}
	if !r.DryRun {
		t.Error("report not marked as a dry run")
	}
	for _, c := range []struct {
		k    importer.Kind
		item string
		want importer.Status
	}{
		{importer.KindAccount, "res", importer.Imported},
		{importer.KindAccount, "alice", importer.Imported}, // its owner res would be imported first
		{importer.KindDomain, "shop.test", importer.Conflict},
		{importer.KindMailbox, "info@alice.test", importer.Imported},
		{importer.KindMailbox, "sales@shop.test", importer.Conflict},
		{importer.KindToken, "alice/ci", importer.Imported},
		{importer.KindToken, "root/billing", importer.Imported},
	} {
		if s, reason := status(r, c.k, c.item); s != c.want {
			t.Errorf("%s %s: %s (%s), want %s", c.k, c.item, s, reason, c.want)
		}
	}
	out := text(t, r)
	if !strings.HasPrefix(out, "dry run: nothing was changed") || !strings.Contains(out, "would import  account res") || !strings.Contains(out, "WOULD IMPORT") {
		t.Errorf("dry-run text:\n%s", out)
	}
	// The real import then does what the dry run said.
	real := run(t, d, false, batch(t))
	if counts(real) != counts(r) {
		t.Errorf("dry run %s, import %s", counts(r), counts(real))
	}
}

// TestConflicts: what uapid has and differs is never touched, and is
// reported; the rest goes on.
func TestConflicts(t *testing.T) {
	onEachStore(t, func(t *testing.T, d store.Directory) {
		testConflicts(t, d)
	})
}

func testConflicts(t *testing.T, d store.Directory) {
	ctx := context.Background()
	other := hash(t, "other")
	for _, a := range []store.Account{
		{User: "alice", PasswordHash: other, Domains: []string{"alice.test"}},
		{User: "bob", Domains: []string{"bob.test", "shop.test"}},
	} {
		if err := d.CreateAccount(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.CreateToken(ctx, store.Token{User: "root", Name: "billing", Hash: digest("OTHER")}); err != nil {
		t.Fatal(err)
	}
	if err := d.CreateToken(ctx, store.Token{User: "root", Name: "same", Hash: digest("SAME")}); err != nil {
		t.Fatal(err)
	}
	b := batch(t)
	b.RootTokens = append(b.RootTokens, importer.Token{Token: store.Token{Name: "copy", Hash: digest("SAME")}, Source: src})
	b.Accounts = append(b.Accounts,
		importer.Account{Account: store.Account{User: "carol", Domains: []string{"bob.test"}}, Source: src,
			Mailboxes: []importer.Mailbox{{Mailbox: store.Mailbox{Address: "x@bob.test"}, Source: src}}},
		importer.Account{Account: store.Account{User: "dave", Owner: "nobody", Domains: []string{"dave.test"}}, Source: src,
			Tokens: []importer.Token{{Token: store.Token{Name: "t", Hash: digest("DAVE")}, Source: src}}},
		importer.Account{Account: store.Account{User: "erin", Domains: []string{"erin.test"}}, Source: src,
			Mailboxes: []importer.Mailbox{{Mailbox: store.Mailbox{Address: "x@elsewhere.test"}, Source: src}}},
	)
	g, _ := d.Generation(ctx)
	r := run(t, d, false, b)
	for _, c := range []struct {
		k      importer.Kind
		item   string
		want   importer.Status
		reason string
	}{
		{importer.KindAccount, "alice", importer.Conflict, "exists in uapid with another password, list of databases, owner, plan, suspension"},
		{importer.KindMailbox, "info@alice.test", importer.Conflict, "left alone"},
		{importer.KindToken, "alice/ci", importer.Conflict, "left alone"},
		{importer.KindDomain, "alice.test", importer.Unchanged, ""},
		{importer.KindDomain, "shop.test", importer.Conflict, "belongs to the account “bob”"},
		{importer.KindAccount, "res", importer.Imported, ""},
		{importer.KindToken, "root/billing", importer.Conflict, "another secret"},
		{importer.KindToken, "root/copy", importer.Conflict, "the token “same” of “root” in uapid has the same secret"},
		{importer.KindAccount, "carol", importer.Conflict, "its main domain “bob.test” belongs to the account “bob”"},
		{importer.KindMailbox, "x@bob.test", importer.Conflict, "not imported"},
		{importer.KindAccount, "dave", importer.Error, "owner “nobody” does not exist"},
		{importer.KindToken, "dave/t", importer.Error, "not imported"},
		{importer.KindAccount, "erin", importer.Imported, ""},
		{importer.KindMailbox, "x@elsewhere.test", importer.Error, "not a domain of the account “erin”"},
	} {
		if s, reason := status(r, c.k, c.item); s != c.want || !strings.Contains(reason, c.reason) {
			t.Errorf("%s %s: %s (%s), want %s (%s)", c.k, c.item, s, reason, c.want, c.reason)
		}
	}
	if a, _ := d.GetAccount(ctx, "alice"); a.PasswordHash != other || a.Owner != "root" || len(a.Domains) != 1 {
		t.Errorf("alice was changed: %+v", a)
	}
	if _, err := d.GetMailbox(ctx, "info@alice.test"); err == nil {
		t.Error("a mailbox was added to a conflicting account")
	}
	if tk, err := d.TokenByHash(ctx, "root", digest("OTHER")); err != nil || tk.Name != "billing" {
		t.Errorf("root's billing token was replaced: %+v, %v", tk, err)
	}
	if c, e := r.Failures(); c == 0 || e == 0 || r.OK() {
		t.Errorf("failures %d, %d", c, e)
	}
	g2, _ := d.Generation(ctx)
	if g2 == g {
		t.Error("nothing was imported")
	}
	// Again: the same decisions, nothing changes.
	again := run(t, d, false, b)
	if g3, _ := d.Generation(ctx); g3 != g2 {
		t.Error("the second import changed the directory")
	}
	for _, item := range []string{"alice", "carol", "dave"} {
		s1, _ := status(r, importer.KindAccount, item)
		s2, _ := status(again, importer.KindAccount, item)
		if s1 != s2 {
			t.Errorf("%s: %s, then %s", item, s1, s2)
		}
	}
	if s, _ := status(again, importer.KindAccount, "res"); s != importer.Unchanged {
		t.Errorf("res again: %s", s)
	}
}

// TestDuplicatesAndProblems: the same account or root token from two
// sources comes over once; readers' problems lead the report.
func TestDuplicatesAndProblems(t *testing.T) {
	d := newDir(t)
	b1 := batch(t)
	b2 := batch(t)
	b2.Problems = []importer.Problem{
		{Kind: importer.KindFile, Where: importer.Where{Path: "/x.tar.gz", File: "cpmove-x/shadow", Line: 3}, Reason: "bad line"},
		{Kind: importer.KindAccount, Item: "x", Where: importer.Where{Path: "/x.tar.gz"}, Reason: "just so", Warning: true},
	}
	for i := range b2.Accounts {
		b2.Accounts[i].Source = importer.Where{Path: "/second"}
	}
	r := run(t, d, false, b1, b2)
	if r.Entries[0].Status != importer.Error || r.Entries[0].Source != "/x.tar.gz: cpmove-x/shadow:3" || r.Entries[1].Status != importer.Warning {
		t.Errorf("first entries %+v", r.Entries[:2])
	}
	if s, reason := status(r, importer.KindAccount, "alice"); s != importer.Imported {
		t.Errorf("alice: %s %s", s, reason)
	}
	for _, item := range []string{"alice", "res", "root/billing"} {
		n := 0
		for _, e := range r.Entries {
			if e.Item == item && e.Status == importer.Error && strings.Contains(e.Reason, "also comes from /srv/cpanel") {
				n++
			}
		}
		if n != 1 {
			t.Errorf("duplicate %s reported %d times:\n%s", item, n, text(t, r))
		}
	}
	var j map[string]any
	var buf bytes.Buffer
	if err := r.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(buf.Bytes(), &j); err != nil {
		t.Fatal(err)
	}
	sum := j["summary"].(map[string]any)["account"].(map[string]any)
	if j["ok"] != false || j["dry_run"] != false || sum["imported"] != float64(2) || sum["errors"] != float64(2) || sum["warnings"] != float64(1) ||
		len(j["entries"].([]any)) != len(r.Entries) {
		t.Errorf("JSON: %s", buf.String())
	}
}

// TestReportHasNoSecrets: neither the text nor the JSON report has a
// password hash or a token digest in it, whatever happened.
func TestReportHasNoSecrets(t *testing.T) {
	ctx := context.Background()
	d := newDir(t)
	b := batch(t)
	if err := d.CreateAccount(ctx, store.Account{User: "res", PasswordHash: hash(t, "x"), Domains: []string{"res.test"}, Reseller: true}); err != nil {
		t.Fatal(err)
	}
	var secrets []string
	for _, a := range b.Accounts {
		secrets = append(secrets, a.PasswordHash)
		for _, m := range a.Mailboxes {
			secrets = append(secrets, m.PasswordHash)
		}
		for _, tk := range a.Tokens {
			secrets = append(secrets, hex.EncodeToString(tk.Hash))
		}
	}
	for _, dry := range []bool{true, false, false} {
		r := run(t, d, dry, b)
		var js bytes.Buffer
		if err := r.WriteJSON(&js); err != nil {
			t.Fatal(err)
		}
		for _, out := range []string{text(t, r), js.String()} {
			for _, s := range secrets {
				if strings.Contains(out, s) || strings.Contains(out, s[:20]) {
					t.Fatalf("report holds a hash or digest:\n%s", out)
				}
			}
		}
	}
}

// TestConcurrentImports: two imports of the same records at once, through
// two handles on one store (as the CLI beside a server, or two nodes),
// create every item exactly once; the other finds it there, equal.
func TestConcurrentImports(t *testing.T) {
	path := filepath.Join(t.TempDir(), "uapid.db")
	var dirs [2]store.Directory
	for i := range dirs {
		db, err := sqlstore.OpenSQLite(context.Background(), path, sqlstore.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		dirs[i] = db.Directory()
	}
	b := batch(t)
	for round := range 5 {
		if round > 0 {
			for _, u := range []string{"alice", "res"} {
				if err := dirs[0].RemoveAccount(context.Background(), u); err != nil {
					t.Fatal(err)
				}
			}
			if err := dirs[0].RevokeToken(context.Background(), "root", "billing"); err != nil {
				t.Fatal(err)
			}
		}
		var reps [2]*importer.Report
		done := make(chan int)
		for i := range dirs {
			go func() {
				im := importer.Importer{Dir: dirs[i], Accounts: &accounts.Service{Dir: dirs[i]}, By: accounts.Actor{User: "root", Method: "test"}}
				rep, err := im.Run(context.Background(), b)
				if err != nil {
					t.Error(err)
				}
				reps[i] = rep
				done <- i
			}()
		}
		<-done
		<-done
		if t.Failed() {
			return
		}
		total := map[importer.Kind]int{}
		for _, r := range reps {
			if !r.OK() {
				t.Fatalf("round %d: %s", round, text(t, r))
			}
			for k, c := range r.Summary() {
				total[k] += c.Imported
			}
		}
		if total[importer.KindAccount] != 2 || total[importer.KindMailbox] != 2 || total[importer.KindToken] != 3 {
			t.Errorf("round %d: imported %v in all", round, total)
		}
	}
}

// staleDir answers the first read of each account, mailbox and token list
// as if it were not there yet: what an import sees when another process
// creates the item between its read and its write.
type staleDir struct {
	store.Directory
	seen map[string]bool
}

func (s *staleDir) first(key string) bool {
	if s.seen[key] {
		return false
	}
	s.seen[key] = true
	return true
}

func (s *staleDir) GetAccount(ctx context.Context, user string) (store.Account, error) {
	if s.first("a " + user) {
		return store.Account{}, store.Errorf(store.ErrNotFound, "no")
	}
	return s.Directory.GetAccount(ctx, user)
}

func (s *staleDir) GetMailbox(ctx context.Context, address string) (store.Mailbox, error) {
	if s.first("m " + address) {
		return store.Mailbox{}, store.Errorf(store.ErrNotFound, "no")
	}
	return s.Directory.GetMailbox(ctx, address)
}

func (s *staleDir) ListTokens(ctx context.Context, user string) ([]store.Token, error) {
	if s.first("t " + user) {
		return nil, nil
	}
	return s.Directory.ListTokens(ctx, user)
}

// TestCreatedMeanwhile: an item created by another process between the
// import's read and its write is found by the store's create-only write,
// then compared: equal is unchanged, different a conflict; nothing is
// replaced.
func TestCreatedMeanwhile(t *testing.T) {
	onEachStore(t, func(t *testing.T, d store.Directory) {
		testCreatedMeanwhile(t, d)
	})
}

func testCreatedMeanwhile(t *testing.T, d store.Directory) {
	ctx := context.Background()
	b := batch(t)
	if r := run(t, d, false, b); !r.OK() {
		t.Fatal(text(t, r))
	}
	// The token "ci" of alice now comes with another secret.
	b.Accounts[0].Tokens[0].Hash = digest("OTHER")
	g, _ := d.Generation(ctx)
	im := importer.Importer{Dir: &staleDir{Directory: d, seen: map[string]bool{}}, Accounts: &accounts.Service{Dir: d}, By: accounts.Actor{User: "root", Method: "test"}}
	r, err := im.Run(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		k    importer.Kind
		item string
		want importer.Status
	}{
		{importer.KindAccount, "alice", importer.Unchanged},
		{importer.KindAccount, "res", importer.Unchanged},
		{importer.KindMailbox, "info@alice.test", importer.Unchanged},
		{importer.KindToken, "res/whm", importer.Unchanged},
		{importer.KindToken, "root/billing", importer.Unchanged},
		{importer.KindToken, "alice/ci", importer.Conflict},
	} {
		if s, reason := status(r, c.k, c.item); s != c.want {
			t.Errorf("%s %s: %s (%s), want %s", c.k, c.item, s, reason, c.want)
		}
	}
	if g2, _ := d.Generation(ctx); g2 != g {
		t.Error("the directory changed")
	}
	if tk, err := d.TokenByHash(ctx, "alice", digest("ALICE")); err != nil || tk.Name != "ci" {
		t.Errorf("alice's token was replaced: %+v, %v", tk, err)
	}
}
