// Package cpaneltest builds synthetic cPanel servers for tests: the files
// a cPanel server keeps about its accounts (/etc/shadow, /var/cpanel/users,
// userdata, resellers, suspensions, API tokens, database maps, each home's
// mailbox files) and pkgacct archives of single accounts, written from the
// formats docs/import-cpanel.md describes. No real customer data: every
// name, password and token here is made up, and hashes are made from the
// given passwords.
package cpaneltest

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/uapid/uapid/internal/passwd"
)

// Server is a cPanel server's accounts and root's WHM tokens.
type Server struct {
	Accounts   []Account
	RootTokens []Token
}

// Account is one cPanel account.
type Account struct {
	User, Owner, Plan, Contact, Locale string
	// Domain is the main domain; Addons maps addon domains to the
	// subdomain each is attached to; Parked and Subs are parked domains
	// and subdomains.
	Domain    string
	Addons    map[string]string
	Parked    []string
	Subs      []string
	StartDate int64
	// Password is hashed ($6$) into the shadow files; Hash, when set, is
	// used as it is instead.
	Password, Hash string
	Reseller       bool
	ACLs           []string
	// Suspended puts "!!" before the account's hash and "*LOCKED*"
	// before its mailboxes', as cPanel does; Reason goes to the
	// suspension file, Locked adds the root lock file.
	Suspended   bool
	Reason      string
	Locked      bool
	SuspendTime int64
	Databases   []string
	Mailboxes   []Mailbox
	// CPanelTokens and WHMTokens (resellers) are the account's tokens.
	CPanelTokens, WHMTokens []Token
}

// Mailbox is a mailbox of an account.
type Mailbox struct {
	Login, Domain string
	Password      string // hashed ($6$); or Hash as it is
	Hash          string
	Suspended     bool  // its login is suspended ("!!" before its hash)
	Quota         int64 // bytes; 0: no quota line
}

// Address is login@domain.
func (m Mailbox) Address() string { return m.Login + "@" + m.Domain }

// Token is an API token; its secret is kept by cPanel only as the SHA-512.
type Token struct {
	Name, Secret     string
	Created, Expires int64
	IPs              []string
	// ACLs (WHM): nil writes no "acls" key (full access).
	ACLs []string
	// Limited (cPanel) writes has_full_access 0 with Features.
	Limited  bool
	Features []string
}

// Digest is the SHA-512 hex of the token's secret, as cPanel stores it.
func (t Token) Digest() string {
	h := sha512.Sum512([]byte(t.Secret))
	return hex.EncodeToString(h[:])
}

// Hashes returns the crypt hashes Files writes, by user and address, so
// that tests can check that none is ever printed.
type Hashes map[string]string

// hashOf returns the hash to write for a password (Hash when set).
func hashOf(t testing.TB, password, hash string, cache Hashes, key string) string {
	t.Helper()
	if hash != "" {
		return hash
	}
	if h, ok := cache[key]; ok {
		return h
	}
	h, err := passwd.Hash(password)
	if err != nil {
		t.Fatal(err)
	}
	cache[key] = h
	return h
}

// Builder makes the files of a Server; it hashes each password once.
type Builder struct {
	t      testing.TB
	S      Server
	Hashes Hashes
}

// New returns a Builder for s.
func New(t testing.TB, s Server) *Builder {
	return &Builder{t: t, S: s, Hashes: Hashes{}}
}

func (b *Builder) acctHash(a Account) string {
	h := hashOf(b.t, a.Password, a.Hash, b.Hashes, a.User)
	if a.Suspended {
		h = "!!" + h
	}
	return h
}

func (b *Builder) mailHash(a Account, m Mailbox) string {
	h := hashOf(b.t, m.Password, m.Hash, b.Hashes, m.Address())
	if m.Suspended {
		h = "!!" + h
	}
	if a.Suspended {
		h = "*LOCKED*" + h
	}
	return h
}

// cpuser is the account file.
func cpuser(a Account) []byte {
	var w bytes.Buffer
	w.WriteString("# cPanel -- If you edit this file directly you must run /usr/local/cpanel/scripts/updateuserdomains\n")
	kv := func(k, v string) {
		if v != "" {
			fmt.Fprintf(&w, "%s=%s\n", k, v)
		}
	}
	kv("USER", a.User)
	owner := a.Owner
	if owner == "" {
		owner = "root"
	}
	kv("OWNER", owner)
	plan := a.Plan
	if plan == "" {
		plan = "undefined"
	}
	kv("PLAN", plan)
	kv("DNS", a.Domain)
	others := slices.Sorted(maps.Keys(a.Addons))
	others = append(others, a.Parked...)
	for i, d := range others {
		kv(fmt.Sprintf("DNS%d", i+1), d)
	}
	kv("CONTACTEMAIL", a.Contact)
	kv("LOCALE", a.Locale)
	start := fmt.Sprint(a.StartDate)
	if a.StartDate == 0 {
		start = "0000000000"
	}
	kv("STARTDATE", start)
	kv("RS", "jupiter")
	if a.Suspended {
		kv("SUSPENDED", "1")
		if a.SuspendTime != 0 {
			kv("SUSPENDTIME", fmt.Sprint(a.SuspendTime))
		}
	}
	return w.Bytes()
}

// userdataMain is userdata/main (YAML).
func userdataMain(a Account) []byte {
	var w bytes.Buffer
	w.WriteString("---\n")
	if len(a.Addons) == 0 {
		w.WriteString("addon_domains: {}\n")
	} else {
		w.WriteString("addon_domains:\n")
		for _, d := range slices.Sorted(maps.Keys(a.Addons)) {
			fmt.Fprintf(&w, "  %s: %s\n", d, a.Addons[d])
		}
	}
	w.WriteString("cp_php_magic_include_path.conf: 0\n")
	fmt.Fprintf(&w, "main_domain: %s\n", a.Domain)
	list := func(name string, l []string) {
		if len(l) == 0 {
			fmt.Fprintf(&w, "%s: []\n", name)
			return
		}
		fmt.Fprintf(&w, "%s:\n", name)
		for _, d := range l {
			fmt.Fprintf(&w, "  - %s\n", d)
		}
	}
	list("parked_domains", a.Parked)
	list("sub_domains", a.Subs)
	return w.Bytes()
}

// tokenMap is the tokens as cPanel keeps them: digest → fields.
func tokenMap(ts []Token, whm bool) map[string]any {
	m := map[string]any{}
	for _, t := range ts {
		e := map[string]any{"name": t.Name, "create_time": t.Created}
		if t.Expires != 0 {
			e["expires_at"] = t.Expires
		} else {
			e["expires_at"] = nil
		}
		if t.IPs != nil {
			e["whitelist_ips"] = t.IPs
		}
		if whm {
			if t.ACLs != nil {
				e["acls"] = t.ACLs
			}
		} else {
			e["has_full_access"] = 1
			e["features"] = []string{}
			if t.Limited {
				e["has_full_access"] = 0
				e["features"] = t.Features
			}
		}
		m[t.Digest()] = e
	}
	return m
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// mailFiles adds an account's mailbox files under etc (DOMAIN/{passwd,
// shadow,quota}).
func (b *Builder) mailFiles(files map[string][]byte, etc, home string, a Account) {
	byDomain := map[string][]Mailbox{}
	for _, m := range a.Mailboxes {
		byDomain[m.Domain] = append(byDomain[m.Domain], m)
	}
	for d, ms := range byDomain {
		var pw, sh, q bytes.Buffer
		for _, m := range ms {
			fmt.Fprintf(&pw, "%s:x:1001:1001::%s/mail/%s/%s:%s\n", m.Login, home, d, m.Login, home)
			fmt.Fprintf(&sh, "%s:%s:19700::::::\n", m.Login, b.mailHash(a, m))
			if m.Quota != 0 {
				fmt.Fprintf(&q, "%s:%d\n", m.Login, m.Quota)
			}
		}
		files[etc+"/"+d+"/passwd"] = pw.Bytes()
		files[etc+"/"+d+"/shadow"] = sh.Bytes()
		files[etc+"/"+d+"/quota"] = q.Bytes()
	}
}

// TreeFiles returns the server's files by path relative to its root.
func (b *Builder) TreeFiles() map[string][]byte {
	files := map[string][]byte{}
	var shadow, owners, resellers, passwdFile bytes.Buffer
	shadow.WriteString("root:$6$rootsalt$notarealhashnotarealhashnotarealhashnotarealhash:19700:0:99999:7:::\n")
	owners.WriteString("#userowners v1\n")
	passwdFile.WriteString("root:x:0:0:root:/root:/bin/bash\n")
	for i, a := range b.S.Accounts {
		u := a.User
		fmt.Fprintf(&shadow, "%s:%s:19700:0:99999:7:::\n", u, b.acctHash(a))
		owner := a.Owner
		if owner == "" {
			owner = "root"
		}
		fmt.Fprintf(&owners, "%s: %s\n", u, owner)
		fmt.Fprintf(&passwdFile, "%s:x:%d:%d::/home/%s:/bin/bash\n", u, 1001+i, 1001+i, u)
		if a.Reseller {
			fmt.Fprintf(&resellers, "%s:%s\n", u, strings.Join(a.ACLs, ","))
		}
		files["var/cpanel/users/"+u] = cpuser(a)
		files["var/cpanel/userdata/"+u+"/main"] = userdataMain(a)
		if a.Suspended {
			files["var/cpanel/suspended/"+u] = []byte(a.Reason + "\n")
			if a.Locked {
				files["var/cpanel/suspended/"+u+".lock"] = []byte(a.Reason + "\n")
			}
		}
		if len(a.CPanelTokens) > 0 {
			files["var/cpanel/authn/api_tokens_v2/cpanel/"+u+".json"] = mustJSON(b.t, map[string]any{"tokens": tokenMap(a.CPanelTokens, false)})
		}
		if len(a.WHMTokens) > 0 {
			files["var/cpanel/authn/api_tokens_v2/whostmgr/"+u+".json"] = mustJSON(b.t, map[string]any{"tokens": tokenMap(a.WHMTokens, true)})
		}
		if len(a.Databases) > 0 {
			dbs := map[string]any{}
			for _, db := range a.Databases {
				dbs[db] = map[string]any{}
			}
			files["var/cpanel/databases/"+u+".json"] = mustJSON(b.t, map[string]any{
				"MYSQL": map[string]any{"dbs": dbs, "dbusers": map[string]any{}, "owner": u},
				"PGSQL": map[string]any{"dbs": map[string]any{}, "dbusers": map[string]any{}}, "version": 1})
		}
		b.mailFiles(files, "home/"+u+"/etc", "/home/"+u, a)
	}
	if len(b.S.RootTokens) > 0 {
		files["var/cpanel/authn/api_tokens_v2/whostmgr/root.json"] = mustJSON(b.t, map[string]any{"tokens": tokenMap(b.S.RootTokens, true)})
	}
	files["etc/shadow"] = shadow.Bytes()
	files["etc/trueuserowners"] = owners.Bytes()
	files["etc/passwd"] = passwdFile.Bytes()
	files["var/cpanel/resellers"] = resellers.Bytes()
	return files
}

// WriteTree writes the server's files below dir.
func (b *Builder) WriteTree(dir string) {
	for p, data := range b.TreeFiles() {
		WriteFile(b.t, filepath.Join(dir, filepath.FromSlash(p)), data)
	}
}

// WriteFile writes data to p, making its directories.
func WriteFile(t testing.TB, p string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// ArchiveFiles returns the files of a pkgacct archive of account user,
// relative to the archive's top directory.
func (b *Builder) ArchiveFiles(user string) map[string][]byte {
	i := slices.IndexFunc(b.S.Accounts, func(a Account) bool { return a.User == user })
	if i < 0 {
		b.t.Fatalf("cpaneltest: no account %s", user)
	}
	a := b.S.Accounts[i]
	files := map[string][]byte{
		"cp/" + user:                     cpuser(a),
		"shadow":                         []byte(b.acctHash(a)),
		"userdata/main":                  userdataMain(a),
		"version":                        []byte("pkgacct version: 10\narchive version: 4\n"),
		"meta/dbprefix":                  []byte("1"),
		"homedir/public_html/index.html": []byte("<h1>hello</h1>\n"),
	}
	if a.Reseller {
		files["resellerconfig/resellers"] = fmt.Appendf(nil, "%s:%s\n", user, strings.Join(a.ACLs, ","))
	}
	if a.Suspended {
		files["suspended/"+user] = []byte(a.Reason + "\n")
		if a.Locked {
			files["suspended/"+user+".lock"] = []byte(a.Reason + "\n")
		}
	}
	if len(a.CPanelTokens) > 0 {
		files["api_tokens/cpanel"] = mustJSON(b.t, tokenMap(a.CPanelTokens, false))
	}
	if len(a.WHMTokens) > 0 {
		files["api_tokens/whostmgr"] = mustJSON(b.t, tokenMap(a.WHMTokens, true))
	}
	for _, db := range a.Databases {
		files["mysql/"+db+".create"] = fmt.Appendf(nil, "CREATE DATABASE /*!32312 IF NOT EXISTS*/ `%s`;\n", db)
		files["mysql/"+db+".sql"] = []byte("-- MySQL dump\n")
	}
	b.mailFiles(files, "homedir/etc", "/home/"+user, a)
	return files
}

// Entry is one tar entry of an archive Tar builds: a regular file, or a
// link or directory given by Type.
type Entry struct {
	Name     string
	Type     byte // tar.TypeReg when 0
	Data     []byte
	Linkname string
}

// Entries returns files as regular entries below top ("" for none),
// preceded by their directories, as pkgacct writes them.
func Entries(top string, files map[string][]byte) []Entry {
	dirs := map[string]bool{}
	var out []Entry
	for _, p := range slices.Sorted(maps.Keys(files)) {
		full := path.Join(top, p)
		for d := path.Dir(full); d != "."; d = path.Dir(d) {
			dirs[d] = true
		}
		out = append(out, Entry{Name: full, Data: files[p]})
	}
	dirEntries := make([]Entry, 0, len(dirs))
	for _, d := range slices.Sorted(maps.Keys(dirs)) {
		dirEntries = append(dirEntries, Entry{Name: d + "/", Type: tar.TypeDir})
	}
	return append(dirEntries, out...)
}

// Tar returns a tar stream of the entries, gzip-compressed when gz.
func Tar(t testing.TB, entries []Entry, gz bool) []byte {
	t.Helper()
	var buf bytes.Buffer
	var zw *gzip.Writer
	var tw *tar.Writer
	if gz {
		zw = gzip.NewWriter(&buf)
		tw = tar.NewWriter(zw)
	} else {
		tw = tar.NewWriter(&buf)
	}
	for _, e := range entries {
		typ := e.Type
		if typ == 0 {
			typ = tar.TypeReg
		}
		h := &tar.Header{Name: e.Name, Typeflag: typ, Mode: 0o644, Linkname: e.Linkname, Format: tar.FormatPAX}
		if typ == tar.TypeReg {
			h.Size = int64(len(e.Data))
		}
		if typ == tar.TypeDir {
			h.Mode = 0o755
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if typ == tar.TypeReg {
			if _, err := tw.Write(e.Data); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if zw != nil {
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

// WriteArchive writes a cpmove archive of user (gzip-compressed) into dir
// as cpmove-USER.tar.gz with the top directory cpmove-USER, and returns
// its path.
func (b *Builder) WriteArchive(dir, user string) string {
	p := filepath.Join(dir, "cpmove-"+user+".tar.gz")
	WriteFile(b.t, p, Tar(b.t, Entries("cpmove-"+user, b.ArchiveFiles(user)), true))
	return p
}

// The secrets of Sample (made up).
const (
	ResellerPassword = "Resel-pass-1"
	AlicePassword    = "Alice-pass-1"
	BobPassword      = "Bob-pass-1"
	CarolPassword    = "Carol-pass-1"
	InfoPassword     = "Info-pass-1"
	SalesPassword    = "Sales-pass-1"
	BobMailPassword  = "Bob-mail-1"
	CarolMailPass    = "Carol-mail-1"

	AliceToken       = "ALICECPANELTOKEN0123456789ABCDEF"
	AliceExpired     = "ALICEEXPIREDTOKEN0123456789ABCDE"
	AliceOffice      = "ALICEOFFICETOKEN0123456789ABCDEF"
	AliceHome        = "ALICEHOMETOKEN0123456789ABCDEFGH"
	AliceLimited     = "ALICELIMITEDTOKEN0123456789ABCDE"
	ResellerWHMToken = "RESELWHMTOKEN0123456789ABCDEFGHI"
	RootToken        = "ROOTWHMTOKEN0123456789ABCDEFGHIJ"
	RootReadOnly     = "ROOTREADONLYTOKEN0123456789ABCDE"
	RootExpired      = "ROOTEXPIREDTOKEN0123456789ABCDEF"
)

// Sample is a server with a reseller "resel" owning "alice" (addon,
// parked and sub domains, databases, mailboxes, one of them
// login-suspended, cPanel tokens with expiry and address lists) and
// "carol" (suspended, locked by root); "bob" (suspended by root, not
// locked); and root's WHM tokens. Expiry times are relative to now (a
// Unix time).
func Sample(now int64) Server {
	return Server{
		Accounts: []Account{
			{
				User: "resel", Domain: "resel.test", Password: ResellerPassword, Reseller: true,
				ACLs: []string{"list-accts", "create-acct", "suspend-acct", "kill-acct"}, Plan: "reseller",
				Contact: "ops@resel.test", StartDate: 1600000000,
				WHMTokens: []Token{{Name: "billing", Secret: ResellerWHMToken, Created: 1700000000}},
			},
			{
				User: "alice", Owner: "resel", Domain: "alice.test", Password: AlicePassword,
				Addons: map[string]string{"shop.test": "shop.alice.test"}, Parked: []string{"alice.example"},
				Subs: []string{"shop.alice.test", "blog.alice.test"}, Plan: "gold", Contact: "alice@example.net",
				Locale: "de", StartDate: 1650000000, Databases: []string{"alice_shop", "alice_wp"},
				Mailboxes: []Mailbox{
					{Login: "info", Domain: "alice.test", Password: InfoPassword, Quota: 1 << 30},
					{Login: "sales", Domain: "shop.test", Password: SalesPassword, Suspended: true},
				},
				CPanelTokens: []Token{
					{Name: "ci", Secret: AliceToken, Created: 1700000000},
					{Name: "old", Secret: AliceExpired, Created: 1600000000, Expires: now - 3600},
					{Name: "office", Secret: AliceOffice, Created: 1700000000, Expires: now + 86400, IPs: []string{"192.0.2.0/24", "2001:db8::1"}},
					{Name: "home", Secret: AliceHome, Created: 1700000000, IPs: []string{"127.0.0.1"}},
					{Name: "limited", Secret: AliceLimited, Created: 1700000000, Limited: true, Features: []string{"email"}},
				},
			},
			{
				User: "bob", Domain: "bob.test", Password: BobPassword, Suspended: true, Reason: "Payment overdue",
				SuspendTime: 1710000000, StartDate: 1600000000,
				Mailboxes: []Mailbox{{Login: "info", Domain: "bob.test", Password: BobMailPassword}},
			},
			{
				User: "carol", Owner: "resel", Domain: "carol.test", Password: CarolPassword, Plan: "silver",
				Suspended: true, Locked: true, Reason: "Abuse report 42", SuspendTime: 1720000000,
				Mailboxes: []Mailbox{{Login: "box", Domain: "carol.test", Password: CarolMailPass}},
			},
		},
		RootTokens: []Token{
			{Name: "billing", Secret: RootToken, Created: 1700000000},
			{Name: "readonly", Secret: RootReadOnly, Created: 1700000000, ACLs: []string{"list-accts"}},
			{Name: "expired", Secret: RootExpired, Created: 1600000000, Expires: now - 60, ACLs: []string{"all"}},
		},
	}
}

// Secrets lists every password and token secret of s.
func (s Server) Secrets() []string {
	var out []string
	for _, a := range s.Accounts {
		out = append(out, a.Password)
		for _, m := range a.Mailboxes {
			out = append(out, m.Password)
		}
		for _, t := range append(slices.Clone(a.CPanelTokens), a.WHMTokens...) {
			out = append(out, t.Secret)
		}
	}
	for _, t := range s.RootTokens {
		out = append(out, t.Secret)
	}
	return out
}

// Digests lists the SHA-512 hex digest of every token of s.
func (s Server) Digests() []string {
	var out []string
	for _, a := range s.Accounts {
		for _, t := range append(slices.Clone(a.CPanelTokens), a.WHMTokens...) {
			out = append(out, t.Digest())
		}
	}
	for _, t := range s.RootTokens {
		out = append(out, t.Digest())
	}
	return out
}
