package cpanelimport_test

import (
	"encoding/hex"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/uapid/uapid/internal/cpanelimport"
	"github.com/uapid/uapid/internal/cpanelimport/cpaneltest"
	"github.com/uapid/uapid/internal/importer"
	"github.com/uapid/uapid/internal/store"
)

var now = time.Now().Unix()

// sample returns the builder of cpaneltest.Sample.
func sample(t *testing.T) *cpaneltest.Builder {
	t.Helper()
	return cpaneltest.New(t, cpaneltest.Sample(now))
}

func tree(t *testing.T, b *cpaneltest.Builder) string {
	t.Helper()
	dir := t.TempDir()
	b.WriteTree(dir)
	return dir
}

func account(t *testing.T, batch importer.Batch, user string) importer.Account {
	t.Helper()
	for _, a := range batch.Accounts {
		if a.User == user {
			return a
		}
	}
	t.Fatalf("no account %s in %+v", user, batch.Accounts)
	return importer.Account{}
}

func tokenNames(ts []importer.Token) []string {
	var out []string
	for _, t := range ts {
		out = append(out, t.Name)
	}
	return out
}

func digest(t *testing.T, hexDigest string) []byte {
	t.Helper()
	b, err := hex.DecodeString(hexDigest)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// problems returns the problems as "kind item: reason (where)" lines.
func problems(b importer.Batch) []string {
	var out []string
	for _, p := range b.Problems {
		out = append(out, string(p.Kind)+" "+p.Item+": "+p.Reason+" ("+p.Where.String()+")")
	}
	return out
}

// hasProblem reports whether a problem of kind names item (when not "")
// at where, with every part of want in its reason.
func hasProblem(b importer.Batch, kind importer.Kind, item, where string, want ...string) bool {
	for _, p := range b.Problems {
		if p.Kind != kind || (item != "" && p.Item != item) || (where != "" && !strings.Contains(p.Where.String(), where)) {
			continue
		}
		ok := true
		for _, w := range want {
			ok = ok && strings.Contains(p.Reason, w)
		}
		if ok {
			return true
		}
	}
	return false
}

// TestReadTree reads the sample server's root directory and checks every
// record against what the files say.
func TestReadTree(t *testing.T) {
	b := sample(t)
	dir := tree(t, b)
	batch := cpanelimport.Read(dir, cpanelimport.Options{})

	var users []string
	for _, a := range batch.Accounts {
		users = append(users, a.User)
	}
	if !slices.Equal(users, []string{"alice", "bob", "carol", "resel"}) {
		t.Fatalf("accounts %v", users)
	}

	alice := account(t, batch, "alice")
	want := store.Account{
		User: "alice", PasswordHash: b.Hashes["alice"], Owner: "resel", Locale: "de", Plan: "gold",
		ContactEmail: "alice@example.net", CreatedAt: time.Unix(1650000000, 0),
		Domains:   []string{"alice.test", "shop.test", "alice.example", "shop.alice.test", "blog.alice.test"},
		Databases: []string{"alice_shop", "alice_wp"},
	}
	if !store.SameAccount(alice.Account, want) || !alice.CreatedAt.Equal(want.CreatedAt) {
		t.Errorf("alice = %+v\nwant    %+v", alice.Account, want)
	}
	if alice.Source.File != "var/cpanel/users/alice" || alice.Source.Path != dir {
		t.Errorf("alice's source %v", alice.Source)
	}
	if len(alice.Mailboxes) != 2 {
		t.Fatalf("alice's mailboxes %+v", alice.Mailboxes)
	}
	for _, m := range alice.Mailboxes {
		switch m.Address {
		case "info@alice.test":
			if m.PasswordHash != b.Hashes["info@alice.test"] || m.SuspendedLogin || m.Quota != 1<<30 {
				t.Errorf("info = %+v", m.Mailbox)
			}
		case "sales@shop.test":
			// "!!" is the login suspension: the hash comes without it.
			if m.PasswordHash != b.Hashes["sales@shop.test"] || !m.SuspendedLogin || m.Quota != 0 {
				t.Errorf("sales = %+v", m.Mailbox)
			}
		default:
			t.Errorf("unexpected mailbox %+v", m)
		}
	}
	// The limited token stays behind (reported); the others come with
	// their digests, times and lists.
	if got := tokenNames(alice.Tokens); !slices.Equal(got, []string{"ci", "home", "office", "old"}) {
		t.Errorf("alice's tokens %v", got)
	}
	s := cpaneltest.Sample(now)
	for _, tk := range alice.Tokens {
		i := slices.IndexFunc(s.Accounts[1].CPanelTokens, func(x cpaneltest.Token) bool { return x.Name == tk.Name })
		src := s.Accounts[1].CPanelTokens[i]
		if string(tk.Hash) != string(digest(t, src.Digest())) || !tk.CreatedAt.Equal(time.Unix(src.Created, 0)) {
			t.Errorf("token %s: %+v", tk.Name, tk.Token)
		}
		if (src.Expires == 0) != tk.ExpiresAt.IsZero() || (src.Expires != 0 && tk.ExpiresAt.Unix() != src.Expires) {
			t.Errorf("token %s expires %v, want %d", tk.Name, tk.ExpiresAt, src.Expires)
		}
	}
	if office := alice.Tokens[2]; !slices.Equal(office.AllowIPs, []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24"), netip.MustParsePrefix("2001:db8::1/128")}) {
		t.Errorf("office allows %v", office.AllowIPs)
	}
	if !hasProblem(batch, importer.KindToken, "alice/limited", "api_tokens_v2/cpanel/alice.json", "limited (features: email)", "--allow-restricted-tokens") {
		t.Errorf("no problem about alice/limited:\n%s", strings.Join(problems(batch), "\n"))
	}

	// bob: suspended by root; "!!" and "*LOCKED*" come off, the
	// suspension stays on the account.
	bob := account(t, batch, "bob")
	if !bob.Suspended || bob.SuspendReason != "Payment overdue" || bob.SuspendLocked ||
		!bob.SuspendedAt.Equal(time.Unix(1710000000, 0)) || bob.PasswordHash != b.Hashes["bob"] || bob.Owner != "root" || bob.Locale != "" {
		t.Errorf("bob = %+v", bob.Account)
	}
	if len(bob.Mailboxes) != 1 || bob.Mailboxes[0].PasswordHash != b.Hashes["info@bob.test"] || bob.Mailboxes[0].SuspendedLogin {
		t.Errorf("bob's mailboxes %+v", bob.Mailboxes)
	}
	carol := account(t, batch, "carol")
	if !carol.Suspended || !carol.SuspendLocked || carol.SuspendReason != "Abuse report 42" || carol.PasswordHash != b.Hashes["carol"] || carol.Owner != "resel" {
		t.Errorf("carol = %+v", carol.Account)
	}
	resel := account(t, batch, "resel")
	if !resel.Reseller || resel.Plan != "reseller" || !slices.Equal(tokenNames(resel.Tokens), []string{"billing"}) {
		t.Errorf("resel = %+v, tokens %v", resel.Account, tokenNames(resel.Tokens))
	}

	// Root: the full-access tokens; the one limited to list-accts stays.
	if got := tokenNames(batch.RootTokens); !slices.Equal(got, []string{"billing", "expired"}) {
		t.Errorf("root's tokens %v", got)
	}
	if !hasProblem(batch, importer.KindToken, "root/readonly", "whostmgr/root.json", "limited (ACLs: list-accts)") {
		t.Errorf("no problem about root/readonly:\n%s", strings.Join(problems(batch), "\n"))
	}
	if len(batch.Problems) != 2 {
		t.Errorf("problems:\n%s", strings.Join(problems(batch), "\n"))
	}

	// --allow-restricted-tokens brings them over too.
	all := cpanelimport.Read(dir, cpanelimport.Options{AllowRestrictedTokens: true})
	if len(all.Problems) != 0 || len(account(t, all, "alice").Tokens) != 5 || len(all.RootTokens) != 3 {
		t.Errorf("with restricted tokens: problems %v, root tokens %v", problems(all), tokenNames(all.RootTokens))
	}
}

// TestReadArchive: every account's pkgacct archive gives the account the
// server's files give (root's tokens are in no archive), whatever the
// top directory, compressed or not, and unpacked into a directory too.
func TestReadArchive(t *testing.T) {
	b := sample(t)
	fromTree := cpanelimport.Read(tree(t, b), cpanelimport.Options{})
	dir := t.TempDir()
	for _, a := range fromTree.Accounts {
		files := b.ArchiveFiles(a.User)
		for _, c := range []struct {
			name, top string
			gz        bool
		}{
			{"cpmove-" + a.User + ".tar.gz", "cpmove-" + a.User, true},
			{"backup-3.4.2025_10-11-12_" + a.User + ".tar.gz", "backup-3.4.2025_10-11-12_" + a.User, true},
			{a.User + ".tar", "./" + a.User, false},
			{a.User + "-flat.tar", "", false},
		} {
			p := filepath.Join(dir, c.name)
			cpaneltest.WriteFile(t, p, cpaneltest.Tar(t, cpaneltest.Entries(c.top, files), c.gz))
			got := cpanelimport.Read(p, cpanelimport.Options{})
			checkSame(t, c.name, got, a)
		}
		unpacked := filepath.Join(dir, "unpacked-"+a.User)
		for p, data := range files {
			cpaneltest.WriteFile(t, filepath.Join(unpacked, filepath.FromSlash(p)), data)
		}
		checkSame(t, "unpacked "+a.User, cpanelimport.Read(unpacked, cpanelimport.Options{}), a)
	}
	// File names in problems name the archive's top directory.
	got := cpanelimport.Read(filepath.Join(dir, "cpmove-alice.tar.gz"), cpanelimport.Options{})
	if !hasProblem(got, importer.KindToken, "alice/limited", "cpmove-alice.tar.gz: cpmove-alice/api_tokens/cpanel") {
		t.Errorf("problems of the archive:\n%s", strings.Join(problems(got), "\n"))
	}
}

// checkSame checks that batch holds exactly want (without sources).
func checkSame(t *testing.T, name string, batch importer.Batch, want importer.Account) {
	t.Helper()
	if len(batch.Accounts) != 1 || len(batch.RootTokens) != 0 {
		t.Errorf("%s: %d accounts, %d root tokens; problems %v", name, len(batch.Accounts), len(batch.RootTokens), problems(batch))
		return
	}
	got := batch.Accounts[0]
	if !store.SameAccount(got.Account, want.Account) || !got.CreatedAt.Equal(want.CreatedAt) {
		t.Errorf("%s: account %+v\nwant %+v", name, got.Account, want.Account)
	}
	if len(got.Mailboxes) != len(want.Mailboxes) {
		t.Errorf("%s: mailboxes %+v, want %+v", name, got.Mailboxes, want.Mailboxes)
	}
	for i := range min(len(got.Mailboxes), len(want.Mailboxes)) {
		if got.Mailboxes[i].Mailbox != want.Mailboxes[i].Mailbox {
			t.Errorf("%s: mailbox %+v, want %+v", name, got.Mailboxes[i].Mailbox, want.Mailboxes[i].Mailbox)
		}
	}
	if len(got.Tokens) != len(want.Tokens) {
		t.Errorf("%s: tokens %v, want %v", name, tokenNames(got.Tokens), tokenNames(want.Tokens))
	}
	for i := range min(len(got.Tokens), len(want.Tokens)) {
		g, w := got.Tokens[i], want.Tokens[i]
		if g.Name != w.Name || string(g.Hash) != string(w.Hash) || !g.ExpiresAt.Equal(w.ExpiresAt) ||
			!g.CreatedAt.Equal(w.CreatedAt) || !slices.Equal(g.AllowIPs, w.AllowIPs) {
			t.Errorf("%s: token %+v, want %+v", name, g.Token, w.Token)
		}
	}
}

// TestReadMalformedTree: a malformed line or file is reported with its
// file and line, and the rest comes over.
func TestReadMalformedTree(t *testing.T) {
	for _, c := range []struct {
		name   string
		change func(t *testing.T, dir string)
		kind   importer.Kind
		item   string
		where  string
		reason []string
		check  func(t *testing.T, b importer.Batch)
	}{
		{"shadow line", func(t *testing.T, dir string) {
			appendFile(t, filepath.Join(dir, "etc/shadow"), "a line without any colon\n")
		}, importer.KindFile, "", "etc/shadow:6", []string{"not “name:password hash:…”"}, func(t *testing.T, b importer.Batch) {
			if len(b.Accounts) != 4 {
				t.Errorf("accounts: %d", len(b.Accounts))
			}
		}},
		{"account file line", func(t *testing.T, dir string) {
			appendFile(t, filepath.Join(dir, "var/cpanel/users/bob"), "NOT A KEY VALUE LINE\n")
		}, importer.KindAccount, "bob", "var/cpanel/users/bob:10", []string{"not KEY=VALUE"}, nil},
		{"no main domain", func(t *testing.T, dir string) {
			replaceIn(t, filepath.Join(dir, "var/cpanel/users/bob"), "DNS=bob.test\n", "")
			replaceIn(t, filepath.Join(dir, "var/cpanel/userdata/bob/main"), "main_domain: bob.test\n", "")
		}, importer.KindAccount, "bob", "var/cpanel/users/bob", []string{"names no main domain"}, func(t *testing.T, b importer.Batch) {
			if len(b.Accounts) != 3 {
				t.Errorf("accounts: %d", len(b.Accounts))
			}
		}},
		{"token file", func(t *testing.T, dir string) {
			cpaneltest.WriteFile(t, filepath.Join(dir, "var/cpanel/authn/api_tokens_v2/cpanel/alice.json"), []byte("{\n\"tokens\": {\n  \"ab\": [1,,]\n}}"))
		}, importer.KindToken, "alice", "api_tokens_v2/cpanel/alice.json:3", []string{"not a JSON object of API tokens"}, func(t *testing.T, b importer.Batch) {
			if a := accountOf(b, "alice"); a == nil || len(a.Tokens) != 0 || len(a.Mailboxes) != 2 {
				t.Errorf("alice: %+v", a)
			}
		}},
		{"bad whitelist entry", func(t *testing.T, dir string) {
			replaceIn(t, filepath.Join(dir, "var/cpanel/authn/api_tokens_v2/cpanel/alice.json"), `"192.0.2.0/24"`, `"192.0.2.0/33"`)
		}, importer.KindToken, "alice", "cpanel/alice.json", []string{"“office”", "“192.0.2.0/33”", "not an address or CIDR range"}, func(t *testing.T, b importer.Batch) {
			if got := tokenNames(accountOf(b, "alice").Tokens); !slices.Equal(got, []string{"ci", "home", "old"}) {
				t.Errorf("alice's tokens %v", got)
			}
		}},
		{"token key not a digest", func(t *testing.T, dir string) {
			replaceIn(t, filepath.Join(dir, "var/cpanel/authn/api_tokens_v2/whostmgr/resel.json"), cpaneltest.Sample(now).Accounts[0].WHMTokens[0].Digest(), "PLAINTEXT")
		}, importer.KindToken, "resel", "whostmgr/resel.json", []string{"“billing” is not under a SHA-512 digest"}, nil},
		{"mailbox shadow line", func(t *testing.T, dir string) {
			appendFile(t, filepath.Join(dir, "home/alice/etc/alice.test/shadow"), "broken\n")
		}, importer.KindMailbox, "", "home/alice/etc/alice.test/shadow:2", []string{"not “name:password hash:…”"}, func(t *testing.T, b importer.Batch) {
			if len(accountOf(b, "alice").Mailboxes) != 2 {
				t.Error("the good mailboxes were not read")
			}
		}},
		{"quota", func(t *testing.T, dir string) {
			cpaneltest.WriteFile(t, filepath.Join(dir, "home/alice/etc/alice.test/quota"), []byte("info:lots\n"))
		}, importer.KindMailbox, "info@alice.test", "home/alice/etc/alice.test/quota:1", []string{"not a number of bytes"}, nil},
		{"mailbox without a hash", func(t *testing.T, dir string) {
			appendFile(t, filepath.Join(dir, "home/alice/etc/alice.test/passwd"), "ghost:x:1001:1001::/home/alice/mail/alice.test/ghost:/home/alice\n")
		}, importer.KindMailbox, "ghost@alice.test", "home/alice/etc/alice.test/passwd:2", []string{"no password hash"}, nil},
		{"database name", func(t *testing.T, dir string) {
			replaceIn(t, filepath.Join(dir, "var/cpanel/databases/alice.json"), `"alice_wp"`, `"wordpress"`)
		}, importer.KindDatabase, "wordpress", "var/cpanel/databases/alice.json", []string{"starting with “alice_”"}, func(t *testing.T, b importer.Batch) {
			if got := accountOf(b, "alice").Databases; !slices.Equal(got, []string{"alice_shop"}) {
				t.Errorf("databases %v", got)
			}
		}},
		{"contact", func(t *testing.T, dir string) {
			replaceIn(t, filepath.Join(dir, "var/cpanel/users/alice"), "CONTACTEMAIL=alice@example.net", "CONTACTEMAIL=not an address")
		}, importer.KindAccount, "alice", "var/cpanel/users/alice", []string{"“not an address” is not a valid address"}, func(t *testing.T, b importer.Batch) {
			if a := accountOf(b, "alice"); a.ContactEmail != "" || a.Plan != "gold" {
				t.Errorf("alice = %+v", a.Account)
			}
		}},
		{"USER of another account", func(t *testing.T, dir string) {
			replaceIn(t, filepath.Join(dir, "var/cpanel/users/bob"), "USER=bob", "USER=mallory")
		}, importer.KindAccount, "bob", "var/cpanel/users/bob", []string{"“mallory”", "not imported"}, func(t *testing.T, b importer.Batch) {
			if accountOf(b, "bob") != nil || accountOf(b, "mallory") != nil {
				t.Error("an account came from a file naming another user")
			}
		}},
		{"no shadow entry", func(t *testing.T, dir string) {
			replaceIn(t, filepath.Join(dir, "etc/shadow"), "\nbob:", "\nbobby:")
		}, importer.KindAccount, "bob", "etc/shadow", []string{"no entry for the account"}, func(t *testing.T, b importer.Batch) {
			if a := accountOf(b, "bob"); a == nil || a.PasswordHash != "" {
				t.Errorf("bob = %+v", a)
			}
		}},
		{"DES hash", func(t *testing.T, dir string) {
			replaceShadowHash(t, dir, "bob", "!!abJnggxhB/yWI")
		}, importer.KindAccount, "bob", "etc/shadow:4", []string{"format uapid does not verify"}, func(t *testing.T, b importer.Batch) {
			if a := accountOf(b, "bob"); a == nil || a.PasswordHash != "abJnggxhB/yWI" {
				t.Errorf("bob = %+v", a)
			}
		}},
		{"WHM tokens of a non-reseller", func(t *testing.T, dir string) {
			data, err := os.ReadFile(filepath.Join(dir, "var/cpanel/authn/api_tokens_v2/whostmgr/resel.json"))
			if err != nil {
				t.Fatal(err)
			}
			cpaneltest.WriteFile(t, filepath.Join(dir, "var/cpanel/authn/api_tokens_v2/whostmgr/bob.json"), data)
		}, importer.KindToken, "bob", "whostmgr/bob.json", []string{"not a reseller"}, func(t *testing.T, b importer.Batch) {
			if len(accountOf(b, "bob").Tokens) != 0 {
				t.Error("bob got WHM tokens")
			}
		}},
		{"cPanel and WHM token of one name", func(t *testing.T, dir string) {
			s := cpaneltest.Sample(now)
			tok := s.Accounts[0].WHMTokens[0]
			tok.Secret = "OTHERSECRET0123456789ABCDEFGHIJK"
			b := cpaneltest.New(t, cpaneltest.Server{Accounts: []cpaneltest.Account{{User: "resel", CPanelTokens: []cpaneltest.Token{tok}}}})
			files := b.TreeFiles()
			cpaneltest.WriteFile(t, filepath.Join(dir, "var/cpanel/authn/api_tokens_v2/cpanel/resel.json"), files["var/cpanel/authn/api_tokens_v2/cpanel/resel.json"])
		}, importer.KindToken, "resel/billing", "whostmgr/resel.json", []string{"one set of tokens per user"}, func(t *testing.T, b importer.Batch) {
			if got := accountOf(b, "resel").Tokens; len(got) != 1 || got[0].Source.File != "var/cpanel/authn/api_tokens_v2/cpanel/resel.json" {
				t.Errorf("resel's tokens %+v", got)
			}
		}},
		{"stray token file", func(t *testing.T, dir string) {
			cpaneltest.WriteFile(t, filepath.Join(dir, "var/cpanel/authn/api_tokens_v2/cpanel/gone.json"), []byte(`{"tokens":{}}`))
		}, importer.KindToken, "", "cpanel/gone.json", []string{"“gone”, which has no account here"}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := tree(t, sample(t))
			c.change(t, dir)
			b := cpanelimport.Read(dir, cpanelimport.Options{})
			if !hasProblem(b, c.kind, c.item, c.where, c.reason...) {
				t.Errorf("no %s problem %q at %s:\n%s", c.kind, c.reason, c.where, strings.Join(problems(b), "\n"))
			}
			if c.check != nil {
				c.check(t, b)
			}
		})
	}
}

func accountOf(b importer.Batch, user string) *importer.Account {
	for i := range b.Accounts {
		if b.Accounts[i].User == user {
			return &b.Accounts[i]
		}
	}
	return nil
}

func appendFile(t *testing.T, p, s string) {
	t.Helper()
	f, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
}

func replaceIn(t *testing.T, p, old, new string) {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), old) {
		t.Fatalf("%s has no %q", p, old)
	}
	if err := os.WriteFile(p, []byte(strings.Replace(string(data), old, new, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
}

// replaceShadowHash sets user's hash in etc/shadow.
func replaceShadowHash(t *testing.T, dir, user, hash string) {
	t.Helper()
	p := filepath.Join(dir, "etc/shadow")
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	ls := strings.Split(string(data), "\n")
	for i, l := range ls {
		if f := strings.Split(l, ":"); len(f) > 2 && f[0] == user {
			f[1] = hash
			ls[i] = strings.Join(f, ":")
		}
	}
	if err := os.WriteFile(p, []byte(strings.Join(ls, "\n")), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestReadTreeSymlinks: a symbolic link in a tree is never followed, a
// file's or a directory's, pointing outside the tree or inside it.
func TestReadTreeSymlinks(t *testing.T) {
	outside := t.TempDir()
	cpaneltest.WriteFile(t, filepath.Join(outside, "shadow"), []byte("evil:$6$salt$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA:19700::::::\n"))
	cpaneltest.WriteFile(t, filepath.Join(outside, "bob"), []byte("USER=bob\nDNS=bob.test\nPLAN=stolen\n"))

	dir := tree(t, sample(t))
	// A mailbox file, an account file and a home's etc directory.
	must(t, os.Remove(filepath.Join(dir, "home/alice/etc/alice.test/shadow")))
	must(t, os.Symlink(filepath.Join(outside, "shadow"), filepath.Join(dir, "home/alice/etc/alice.test/shadow")))
	must(t, os.Remove(filepath.Join(dir, "var/cpanel/users/bob")))
	must(t, os.Symlink(filepath.Join(outside, "bob"), filepath.Join(dir, "var/cpanel/users/bob")))
	must(t, os.RemoveAll(filepath.Join(dir, "home/carol/etc")))
	must(t, os.Symlink(filepath.Join(dir, "home/alice/etc"), filepath.Join(dir, "home/carol/etc")))

	b := cpanelimport.Read(dir, cpanelimport.Options{})
	for _, a := range b.Accounts {
		for _, m := range a.Mailboxes {
			if strings.HasPrefix(m.Address, "evil@") || (a.User == "carol" && m.Address != "box@carol.test") {
				t.Errorf("%s got mailbox %s through a symbolic link", a.User, m.Address)
			}
		}
	}
	if a := accountOf(b, "alice"); a == nil || len(a.Mailboxes) != 1 || a.Mailboxes[0].Address != "sales@shop.test" {
		t.Errorf("alice: %+v", a)
	}
	if a := accountOf(b, "carol"); a == nil || len(a.Mailboxes) != 0 {
		t.Errorf("carol: %+v", a)
	}
	if accountOf(b, "bob") != nil {
		t.Error("bob came from a linked account file")
	}
	if !hasProblem(b, importer.KindFile, "", "home/alice/etc/alice.test/shadow", "symbolic link") ||
		!hasProblem(b, importer.KindFile, "", "var/cpanel/users/bob", "not a regular file") ||
		!hasProblem(b, importer.KindFile, "", "home/carol/etc", "symbolic link") {
		t.Errorf("problems:\n%s", strings.Join(problems(b), "\n"))
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestReadSources: what is neither a tree nor an archive is reported.
func TestReadSources(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	must(t, os.Mkdir(empty, 0o755))
	junk := filepath.Join(dir, "junk.tar.gz")
	cpaneltest.WriteFile(t, junk, []byte("this is not an archive at all, just some text that goes on for a while........................................................................................................................................................................................................................................................................................................................................................................................................................................................................................................"))
	for _, c := range []struct {
		path, reason string
	}{
		{filepath.Join(dir, "missing"), "cannot be read: no such file or directory"},
		{empty, "neither the root of a cPanel server"},
		{junk, "nothing of it was imported"},
	} {
		b := cpanelimport.Read(c.path, cpanelimport.Options{})
		if len(b.Accounts) != 0 || len(b.Problems) != 1 || b.Problems[0].Kind != importer.KindFile ||
			!strings.Contains(b.Problems[0].Reason, c.reason) || b.Problems[0].Where.Path != c.path {
			t.Errorf("%s: %v", c.path, problems(b))
		}
	}
}
