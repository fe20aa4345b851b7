package cli_test

import (
	"archive/tar"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/uapid/uapid/internal/cpanelimport/cpaneltest"
	"github.com/uapid/uapid/internal/testserver"
)

// rootOnly is a fixture with root's password and no account, so that
// every account of a test comes from the import.
const rootOnly = "root:\n  password: \"Root-pass-1\"\n"

// withoutRestricted is s without the tokens cPanel limited (which are
// left behind unless --allow-restricted-tokens; TestImportCPanelRestricted
// covers them).
func withoutRestricted(s cpaneltest.Server) cpaneltest.Server {
	for i := range s.Accounts {
		s.Accounts[i].CPanelTokens = slices.DeleteFunc(slices.Clone(s.Accounts[i].CPanelTokens), func(t cpaneltest.Token) bool { return t.Limited })
	}
	s.RootTokens = slices.DeleteFunc(slices.Clone(s.RootTokens), func(t cpaneltest.Token) bool { return t.ACLs != nil && !slices.Contains(t.ACLs, "all") })
	return s
}

// only keeps the accounts of s named in users (root's tokens too when
// root is true).
func only(s cpaneltest.Server, root bool, users ...string) cpaneltest.Server {
	out := cpaneltest.Server{}
	for _, a := range s.Accounts {
		if slices.Contains(users, a.User) {
			out.Accounts = append(out.Accounts, a)
		}
	}
	if root {
		out.RootTokens = s.RootTokens
	}
	return out
}

// summaryOf reads the summary of a --json report.
func summaryOf(t *testing.T, file string) (ok bool, sum map[string]map[string]float64, entries []map[string]any) {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var r struct {
		OK      bool                          `json:"ok"`
		Summary map[string]map[string]float64 `json:"summary"`
		Entries []map[string]any              `json:"entries"`
	}
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatalf("report %s: %v", data, err)
	}
	return r.OK, r.Summary, r.Entries
}

// TestImportCPanel imports a synthetic cPanel server (a reseller owning
// accounts, addon/parked/sub domains, suspended and root-locked accounts,
// login-suspended mailboxes, cPanel and WHM tokens with expiry and address
// lists) into the store of a running server, partly from the server's
// file system and partly from a pkgacct archive, and proves through the
// HTTP API that the passwords, mailbox passwords and tokens cPanel issued
// work as they did; then that a second import changes nothing, and that
// nothing secret was printed or logged.
func TestImportCPanel(t *testing.T) {
	now := time.Now().Unix()
	full := withoutRestricted(cpaneltest.Sample(now))
	// resel, alice, bob and root's tokens from the file system; carol
	// (owned by resel) from her archive, named first.
	treeB := cpaneltest.New(t, only(full, true, "resel", "alice", "bob"))
	archB := cpaneltest.New(t, only(full, false, "carol"))
	root := t.TempDir()
	treeB.WriteTree(root)
	archive := archB.WriteArchive(t.TempDir(), "carol")

	auditLog := filepath.Join(t.TempDir(), "audit.jsonl")
	srv := testserver.Start(t, testserver.Options{Fixture: rootOnly, Args: []string{"--audit-log", auditLog, "--log-level", "debug"}})
	var outputs []string
	imp := func(args ...string) result {
		t.Helper()
		r := adm(t, srv.DataDir, "", append([]string{"import-cpanel", "--audit-log", auditLog}, args...)...)
		outputs = append(outputs, r.stdout, r.stderr)
		return r
	}

	// A dry run says what would happen and changes nothing.
	dry := imp("--dry-run", archive, root)
	if dry.code != 0 || !strings.HasPrefix(dry.stdout, "dry run: nothing was changed") ||
		!strings.Contains(dry.stdout, "would import  account carol") || !strings.Contains(dry.stdout, "WOULD IMPORT") {
		t.Fatalf("dry run: %s", dry)
	}
	if list := ok(t, srv.DataDir, "", "account", "list"); len(rows(list)) != 0 {
		t.Fatalf("the dry run created accounts:\n%s", list)
	}

	// The import, while the server runs.
	report := filepath.Join(t.TempDir(), "report.json")
	r := imp("--json", report, archive, root)
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("import: %s", r)
	}
	for _, line := range []string{"imported  account carol", "imported  account resel", "imported  domain shop.test",
		"imported  mailbox sales@shop.test", "imported  token alice/office", "imported  token root/billing", "imported  database alice_wp"} {
		if !strings.Contains(r.stdout, line) {
			t.Errorf("import output lacks %q:\n%s", line, r.stdout)
		}
	}
	good, sum, _ := summaryOf(t, report)
	for kind, want := range map[string]float64{"account": 4, "domain": 8, "database": 2, "mailbox": 4, "token": 7} {
		if c := sum[kind]; c["imported"] != want || c["conflicts"]+c["errors"] != 0 {
			t.Errorf("%s: %v, want %v imported", kind, c, want)
		}
	}
	if !good {
		t.Error("report not ok")
	}
	// Quotas (bytes) and login suspensions came with the mailboxes.
	var boxes []string
	for _, r := range rows(ok(t, srv.DataDir, "", "mailbox", "list", "--account", "alice")) {
		boxes = append(boxes, strings.Join(r, " "))
	}
	if !slices.Equal(boxes, []string{"info@alice.test alice false 1073741824", "sales@shop.test alice true unlimited"}) {
		t.Errorf("alice's mailboxes %q", boxes)
	}

	// Again: everything unchanged, nothing written.
	again := filepath.Join(t.TempDir(), "again.json")
	r = imp("--json", again, archive, root)
	good, sum, _ = summaryOf(t, again)
	if r.code != 0 || !good {
		t.Fatalf("second import: %s", r)
	}
	for kind, c := range sum {
		if c["imported"]+c["conflicts"]+c["errors"] != 0 {
			t.Errorf("second import, %s: %v", kind, c)
		}
	}
	if sum["account"]["unchanged"] != 4 || sum["mailbox"]["unchanged"] != 4 || sum["token"]["unchanged"] != 7 {
		t.Errorf("second import: %v", sum)
	}

	get := func(service, path, authz string) *testserver.Response {
		t.Helper()
		return srv.Get(service, path, authz)
	}
	status := func(resp *testserver.Response) string {
		t.Helper()
		if resp.StatusCode != http.StatusOK {
			return resp.Status
		}
		v := resp.JSON(t)
		if s, ok := v["status"]; ok {
			return "status " + string(s.(json.Number))
		}
		return "result " + string(v["metadata"].(map[string]any)["result"].(json.Number))
	}

	// The account password: Basic auth and the password login.
	if s := status(get("cpaneld", "/execute/Email/list_pops", testserver.Basic("alice", cpaneltest.AlicePassword))); s != "status 1" {
		t.Errorf("alice's password (Basic): %s", s)
	}
	login := srv.PostForm(srv.Client(), "cpaneld", "/login/?login_only=1", "", url.Values{"user": {"alice"}, "pass": {cpaneltest.AlicePassword}})
	if login.StatusCode != 200 || login.JSON(t)["status"] != json.Number("1") {
		t.Errorf("alice's password login: %d %s", login.StatusCode, login.Body)
	}
	if s := status(get("cpaneld", "/execute/Email/list_pops", testserver.Basic("alice", "wrong-password"))); s != "401 Unauthorized" {
		t.Errorf("a wrong password: %s", s)
	}

	// Tokens, by the text cPanel issued (only their SHA-512 was in the
	// tree): cPanel tokens as cpanel, root's and the reseller's as whm.
	for _, c := range []struct {
		name, service, path, authz, want string
	}{
		{"alice's cPanel token", "cpaneld", "/execute/Email/list_pops", testserver.CPanelToken("alice", cpaneltest.AliceToken), "status 1"},
		{"root's WHM token", "whostmgrd", "/json-api/version?api.version=1", testserver.WHMToken("root", cpaneltest.RootToken), "result 1"},
		{"the reseller's WHM token", "whostmgrd", "/json-api/listaccts?api.version=1", testserver.WHMToken("resel", cpaneltest.ResellerWHMToken), "result 1"},
		{"an expired cPanel token", "cpaneld", "/execute/Email/list_pops", testserver.CPanelToken("alice", cpaneltest.AliceExpired), "401 Unauthorized"},
		{"an expired WHM token", "whostmgrd", "/json-api/version?api.version=1", testserver.WHMToken("root", cpaneltest.RootExpired), "401 Unauthorized"},
		{"a token from outside its address list", "cpaneld", "/execute/Email/list_pops", testserver.CPanelToken("alice", cpaneltest.AliceOffice), "401 Unauthorized"},
		{"a token from inside its address list", "cpaneld", "/execute/Email/list_pops", testserver.CPanelToken("alice", cpaneltest.AliceHome), "status 1"},
		{"a cPanel token as whm", "whostmgrd", "/json-api/version?api.version=1", testserver.WHMToken("alice", cpaneltest.AliceToken), "401 Unauthorized"},
		{"another account's token", "cpaneld", "/execute/Email/list_pops", testserver.CPanelToken("bob", cpaneltest.AliceToken), "401 Unauthorized"},
	} {
		if s := status(get(c.service, c.path, c.authz)); s != c.want {
			t.Errorf("%s: %s, want %s", c.name, s, c.want)
		}
	}

	// Mailbox passwords: check_password and the Webmail password login;
	// a login-suspended mailbox is refused as cPanel refuses it.
	checkPW := func(login, domain, pass string) map[string]any {
		t.Helper()
		q := url.Values{"login": {login}, "domain": {domain}, "password": {pass}, "remote_address": {"198.51.100.7"}}
		return get("cpaneld", "/execute/Session/create_webmail_session_for_mail_user_check_password?"+q.Encode(),
			testserver.CPanelToken("alice", cpaneltest.AliceToken)).JSON(t)
	}
	if v := checkPW("info", "alice.test", cpaneltest.InfoPassword); v["status"] != json.Number("1") {
		t.Errorf("check_password of info@alice.test: %v", v)
	}
	v := checkPW("sales", "shop.test", cpaneltest.SalesPassword)
	if d, _ := v["data"].(map[string]any); v["status"] != json.Number("0") || d["type"] != "Suspended" ||
		!slices.Equal(strings.Fields(strings.Join(toStrings(v["errors"]), " ")), strings.Fields("Logins for “sales@shop.test” are suspended.")) {
		t.Errorf("check_password of the suspended sales@shop.test: %v", v)
	}
	webmailLogin := func(user, pass string) int {
		t.Helper()
		return srv.PostForm(srv.Client(), "webmaild", "/login/?login_only=1", "", url.Values{"user": {user}, "pass": {pass}}).StatusCode
	}
	if c := webmailLogin("info@alice.test", cpaneltest.InfoPassword); c != 200 {
		t.Errorf("Webmail login of info@alice.test: %d", c)
	}
	if c := webmailLogin("sales@shop.test", cpaneltest.SalesPassword); c != 401 {
		t.Errorf("Webmail login of the suspended sales@shop.test: %d", c)
	}

	// listaccts shows plan, owner, contact and suspension reason.
	accts := map[string]map[string]any{}
	lv := get("whostmgrd", "/json-api/listaccts?api.version=1", testserver.WHMToken("root", cpaneltest.RootToken)).JSON(t)
	for _, a := range lv["data"].(map[string]any)["acct"].([]any) {
		e := a.(map[string]any)
		accts[e["user"].(string)] = e
	}
	for user, want := range map[string]map[string]any{
		"alice": {"plan": "gold", "owner": "resel", "email": "alice@example.net", "suspended": json.Number("0"), "domain": "alice.test",
			"unix_startdate": json.Number("1650000000")},
		"resel": {"plan": "reseller", "owner": "root", "email": "ops@resel.test"},
		"bob": {"plan": "undefined", "owner": "root", "suspended": json.Number("1"), "suspendreason": "Payment overdue",
			"is_locked": json.Number("0"), "suspendtime": json.Number("1710000000")},
		"carol": {"plan": "silver", "owner": "resel", "suspended": json.Number("1"), "suspendreason": "Abuse report 42", "is_locked": json.Number("1")},
	} {
		for k, w := range want {
			if got := accts[user][k]; got != w {
				t.Errorf("listaccts %s.%s = %v, want %v", user, k, got, w)
			}
		}
	}

	// Suspended accounts cannot log in; the root lock holds against the
	// reseller; once root unsuspends, the passwords cPanel had marked
	// ("!!" on the account, "*LOCKED*" on its mailboxes) work again.
	if s := status(get("cpaneld", "/execute/Email/list_pops", testserver.Basic("bob", cpaneltest.BobPassword))); s != "401 Unauthorized" {
		t.Errorf("suspended bob: %s", s)
	}
	unsuspend := func(authz, user string) map[string]any {
		t.Helper()
		return get("whostmgrd", "/json-api/unsuspendacct?api.version=1&user="+user, authz).JSON(t)["metadata"].(map[string]any)
	}
	if m := unsuspend(testserver.WHMToken("resel", cpaneltest.ResellerWHMToken), "carol"); m["result"] != json.Number("0") ||
		m["reason"] != "Only root can unsuspend the account “carol”: root locked its suspension." {
		t.Errorf("the reseller unsuspending root-locked carol: %v", m)
	}
	if s := status(get("cpaneld", "/execute/Email/list_pops", testserver.Basic("carol", cpaneltest.CarolPassword))); s != "401 Unauthorized" {
		t.Errorf("carol after the reseller's attempt: %s", s)
	}
	for _, user := range []string{"bob", "carol"} {
		if m := unsuspend(testserver.Basic("root", "Root-pass-1"), user); m["result"] != json.Number("1") {
			t.Errorf("root unsuspending %s: %v", user, m)
		}
	}
	if s := status(get("cpaneld", "/execute/Email/list_pops", testserver.Basic("bob", cpaneltest.BobPassword))); s != "status 1" {
		t.Errorf("bob after unsuspension: %s", s)
	}
	if s := status(get("cpaneld", "/execute/Email/list_pops", testserver.Basic("carol", cpaneltest.CarolPassword))); s != "status 1" {
		t.Errorf("carol after unsuspension: %s", s)
	}
	if c := webmailLogin("info@bob.test", cpaneltest.BobMailPassword); c != 200 {
		t.Errorf("bob's mailbox after unsuspension: %d", c)
	}
	if c := webmailLogin("box@carol.test", cpaneltest.CarolMailPass); c != 200 {
		t.Errorf("carol's mailbox (from the archive) after unsuspension: %d", c)
	}

	// Now bob and carol differ from what the import brought: a third
	// import leaves them as they are and says so.
	third := imp(archive, root)
	if third.code != 1 || !strings.Contains(third.stdout, "conflict  account bob") || !strings.Contains(third.stdout, "with another suspension") ||
		third.stderr != "uapid: 4 conflict(s) and 0 error(s); the report above lists them\n" {
		t.Errorf("third import: %s", third)
	}
	if s := status(get("cpaneld", "/execute/Email/list_pops", testserver.Basic("bob", cpaneltest.BobPassword))); s != "status 1" {
		t.Errorf("bob after the third import: %s", s)
	}

	// Nothing secret in any output: the import's, the JSON reports, the
	// server's log, the audit trail.
	for _, f := range []string{report, again, auditLog} {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		outputs = append(outputs, string(data))
	}
	outputs = append(outputs, srv.Stdout.String(), srv.Stderr.String())
	audit := outputs[len(outputs)-3]
	if !strings.Contains(audit, `"event":"token.create"`) || !strings.Contains(audit, `"method":"uapid import-cpanel"`) {
		t.Errorf("the audit trail has no import events:\n%s", audit)
	}
	noSecrets(t, outputs, full, treeB, archB)
}

// noSecrets fails if any output holds a password, token, password hash or
// token digest of s.
func noSecrets(t *testing.T, outputs []string, s cpaneltest.Server, bs ...*cpaneltest.Builder) {
	t.Helper()
	secrets := append(s.Secrets(), s.Digests()...)
	for _, b := range bs {
		for _, h := range b.Hashes {
			secrets = append(secrets, h, h[len(h)-20:])
		}
	}
	for _, d := range s.Digests() {
		secrets = append(secrets, d[:32], strings.ToUpper(d[:32]))
	}
	for _, out := range outputs {
		for _, sec := range secrets {
			if sec != "" && strings.Contains(out, sec) {
				t.Fatalf("an output holds a secret, hash or digest (%.8s…):\n%s", sec, out)
			}
		}
	}
}

func toStrings(v any) []string {
	l, _ := v.([]any)
	var out []string
	for _, x := range l {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}

// TestImportCPanelConflict: an account uapid has already, different from
// cPanel's, is left untouched and reported; the rest comes over.
func TestImportCPanelConflict(t *testing.T) {
	s := withoutRestricted(cpaneltest.Sample(time.Now().Unix()))
	b := cpaneltest.New(t, s)
	root := t.TempDir()
	b.WriteTree(root)
	dir := t.TempDir()
	ok(t, dir, "Other-pass-123\n", "account", "add", "alice", "--domain", "alice.test", "--password-stdin")
	before := ok(t, dir, "", "account", "list")

	r := adm(t, dir, "", "import-cpanel", root)
	if r.code != 1 || !strings.HasPrefix(r.stderr, "uapid: ") || !strings.Contains(r.stderr, "conflict") {
		t.Errorf("import: %s", r)
	}
	for _, want := range []string{
		"conflict  account alice", "an account “alice” exists in uapid with another password",
		"conflict  mailbox info@alice.test", "its mailboxes and tokens are left alone",
		"conflict  domain shop.test", "imported  account bob", "imported  account resel", "imported  account carol",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}
	after := ok(t, dir, "", "account", "list")
	var aliceBefore, aliceAfter string
	for _, l := range strings.Split(before, "\n") {
		if strings.HasPrefix(l, "alice ") {
			aliceBefore = l
		}
	}
	for _, l := range strings.Split(after, "\n") {
		if strings.HasPrefix(l, "alice ") {
			aliceAfter = l
		}
	}
	if aliceBefore == "" || aliceBefore != aliceAfter {
		t.Errorf("alice changed:\n%s\n%s", before, after)
	}
	if list := ok(t, dir, "", "mailbox", "list", "--account", "alice"); len(rows(list)) != 0 {
		t.Errorf("alice got mailboxes:\n%s", list)
	}
	if list := ok(t, dir, "", "token", "list", "alice"); len(rows(list)) != 0 {
		t.Errorf("alice got tokens:\n%s", list)
	}
	// The existing account keeps its own password.
	srv := testserver.Start(t, testserver.Options{Fixture: rootOnly, DataDir: dir})
	if c := srv.Get("cpaneld", "/execute/Email/list_pops", testserver.Basic("alice", "Other-pass-123")).StatusCode; c != 200 {
		t.Errorf("alice's own password: %d", c)
	}
	if c := srv.Get("cpaneld", "/execute/Email/list_pops", testserver.Basic("alice", cpaneltest.AlicePassword)).StatusCode; c != 401 {
		t.Errorf("cPanel's password of alice: %d", c)
	}
	noSecrets(t, []string{r.stdout, r.stderr}, s, b)
}

// TestImportCPanelBadInput: a truncated archive, archive entries named
// with "../" or linking elsewhere, a symbolic link in a server's tree and
// a malformed shadow line are each reported, and nothing from outside the
// tree comes in; what is sound still does.
func TestImportCPanelBadInput(t *testing.T) {
	s := withoutRestricted(cpaneltest.Sample(time.Now().Unix()))
	b := cpaneltest.New(t, only(s, true, "resel", "alice"))
	root := t.TempDir()
	b.WriteTree(root)
	outside := t.TempDir()
	evil := "evil:$6$saltsalt$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA:19700::::::\n"
	cpaneltest.WriteFile(t, filepath.Join(outside, "shadow"), []byte(evil))
	// A malformed line in etc/shadow; alice's mail shadow is a link out.
	f, err := os.OpenFile(filepath.Join(root, "etc/shadow"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("this line has no fields\n")
	f.Close()
	must(t, os.Remove(filepath.Join(root, "home/alice/etc/shop.test/shadow")))
	must(t, os.Symlink(filepath.Join(outside, "shadow"), filepath.Join(root, "home/alice/etc/shop.test/shadow")))

	ab := cpaneltest.New(t, only(s, false, "bob", "carol"))
	arch := t.TempDir()
	bob := cpaneltest.Entries("cpmove-bob", ab.ArchiveFiles("bob"))
	truncated := cpaneltest.Tar(t, bob, true)
	cpaneltest.WriteFile(t, filepath.Join(arch, "cpmove-bob.tar.gz"), truncated[:len(truncated)*2/3])
	carol := cpaneltest.Entries("cpmove-carol", ab.ArchiveFiles("carol"))
	var carolEntries []cpaneltest.Entry
	for _, e := range carol {
		if e.Name != "cpmove-carol/homedir/etc/carol.test/shadow" {
			carolEntries = append(carolEntries, e)
		}
	}
	carolEntries = append(carolEntries,
		cpaneltest.Entry{Name: "cpmove-carol/../../../../" + strings.TrimPrefix(outside, "/") + "/planted", Data: []byte("x")},
		cpaneltest.Entry{Name: "cpmove-carol/homedir/etc/carol.test/shadow", Type: tar.TypeSymlink, Linkname: filepath.Join(outside, "shadow")})
	carolPath := filepath.Join(arch, "backup-1.2.2025_03-04-05_carol.tar.gz")
	cpaneltest.WriteFile(t, carolPath, cpaneltest.Tar(t, carolEntries, true))

	dir := t.TempDir()
	report := filepath.Join(t.TempDir(), "r.json")
	r := adm(t, dir, "", "import-cpanel", "--json", report, root, filepath.Join(arch, "cpmove-bob.tar.gz"), carolPath)
	if r.code != 1 {
		t.Errorf("import: %s", r)
	}
	for _, want := range []string{
		root + ": etc/shadow:4", "the line is not “name:password hash:…”",
		root + ": home/alice/etc/shop.test/shadow", "symbolic link, which the importer does not follow",
		"cpmove-bob.tar.gz", "truncated", "nothing of it was imported",
		carolPath + ": cpmove-carol/../../../../", "“..” component",
		carolPath + ": cpmove-carol/homedir/etc/carol.test/shadow", "is a symbolic link",
		"imported  account alice", "imported  account carol", "imported  mailbox info@alice.test",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}
	// Nothing from outside: no evil mailbox, no bob, nothing planted.
	mailboxes := ok(t, dir, "", "mailbox", "list")
	if strings.Contains(mailboxes, "evil") || strings.Contains(mailboxes, "sales@shop.test") || strings.Contains(mailboxes, "carol.test") {
		t.Errorf("mailboxes:\n%s", mailboxes)
	}
	if accts := column(ok(t, dir, "", "account", "list"), 0); !slices.Equal(accts, []string{"alice", "carol", "resel"}) {
		t.Errorf("accounts %v", accts)
	}
	if es, _ := os.ReadDir(outside); len(es) != 1 {
		t.Errorf("something was written outside: %v", es)
	}
	if _, err := os.Stat(filepath.Join(outside, "planted")); err == nil {
		t.Error("the ../ entry was written")
	}
	okRep, sum, _ := summaryOf(t, report)
	if okRep || sum["file"]["errors"] < 4 || sum["account"]["imported"] != 3 {
		t.Errorf("summary %v", sum)
	}
	noSecrets(t, []string{r.stdout, r.stderr}, s, b, ab)
}

// TestImportCPanelRestricted: tokens cPanel limited to some ACLs or
// features are left behind and reported (exit 1), unless
// --allow-restricted-tokens brings them over with full rights.
func TestImportCPanelRestricted(t *testing.T) {
	s := cpaneltest.Sample(time.Now().Unix())
	b := cpaneltest.New(t, s)
	root := t.TempDir()
	b.WriteTree(root)
	dir := t.TempDir()
	r := adm(t, dir, "", "import-cpanel", root)
	if r.code != 1 || !strings.Contains(r.stdout, "error     token alice/limited") || !strings.Contains(r.stdout, "error     token root/readonly") ||
		!strings.Contains(r.stdout, "--allow-restricted-tokens") || r.stderr != "uapid: 0 conflict(s) and 2 error(s); the report above lists them\n" {
		t.Errorf("import: %s", r)
	}
	if l := ok(t, dir, "", "token", "list", "root"); strings.Contains(l, "readonly") || !strings.Contains(l, "billing") {
		t.Errorf("root's tokens:\n%s", l)
	}
	r = adm(t, dir, "", "import-cpanel", "--allow-restricted-tokens", "--json", "-", root)
	var rep struct {
		OK      bool                          `json:"ok"`
		Summary map[string]map[string]float64 `json:"summary"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || r.code != 0 || !rep.OK || rep.Summary["token"]["imported"] != 2 {
		t.Errorf("with --allow-restricted-tokens: %s (%v)", r, err)
	}
	if l := ok(t, dir, "", "token", "list", "root"); !strings.Contains(l, "readonly") {
		t.Errorf("root's tokens:\n%s", l)
	}
}

// TestImportCPanelUsage: bad invocations are usage errors; a dry run needs
// an existing store and creates none.
func TestImportCPanelUsage(t *testing.T) {
	if r := uapid(t, "import-cpanel"); r.code != 2 || !strings.Contains(r.stderr, "usage: uapid import-cpanel") {
		t.Errorf("no PATH: %s", r)
	}
	if r := uapid(t, "import-cpanel", "--frobnicate", "x"); r.code != 2 {
		t.Errorf("unknown flag: %s", r)
	}
	dir := filepath.Join(t.TempDir(), "none")
	root := t.TempDir()
	cpaneltest.New(t, cpaneltest.Server{}).WriteTree(root)
	r := adm(t, dir, "", "import-cpanel", "--dry-run", root)
	if r.code != 1 || !strings.Contains(r.stderr, "no uapid data directory") {
		t.Errorf("dry run without a store: %s", r)
	}
	if _, err := os.Stat(dir); err == nil {
		t.Error("a dry run created the data directory")
	}
	// A missing PATH is reported like any problem.
	r = adm(t, t.TempDir(), "", "import-cpanel", filepath.Join(root, "missing.tar.gz"))
	if r.code != 1 || !strings.Contains(r.stdout, "missing.tar.gz") || !strings.Contains(r.stdout, "no such file") {
		t.Errorf("missing PATH: %s", r)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
