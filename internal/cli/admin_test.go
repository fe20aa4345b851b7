package cli_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/uapid/uapid/internal/cli"
	"github.com/uapid/uapid/internal/testserver"
)

// adm runs `uapid args… --data dir` with stdin.
func adm(t *testing.T, dir, stdin string, args ...string) result {
	t.Helper()
	return run(t, cli.Main, stdin, nil, append(args, "--data", dir)...)
}

// ok runs an admin command that must succeed and returns its output.
func ok(t *testing.T, dir, stdin string, args ...string) string {
	t.Helper()
	r := adm(t, dir, stdin, args...)
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("uapid %q: %s", args, r)
	}
	return r.stdout
}

// rows returns the table rows (header dropped) of list output, as fields.
func rows(out string) [][]string {
	var rs [][]string
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	for _, l := range lines[1:] {
		rs = append(rs, strings.Fields(l))
	}
	return rs
}

// column returns field i of every row.
func column(out string, i int) []string {
	var c []string
	for _, r := range rows(out) {
		if i < len(r) {
			c = append(c, r[i])
		}
	}
	return c
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// newSession creates a Webmail session for address (login@domain) as
// account through uapi and returns its token and session string.
func newSession(t *testing.T, dir, account, login, domain string) (token, session string) {
	t.Helper()
	r := uapiRun(t, dir, "--user="+account, "--output=json", "Session", "create_webmail_session_for_mail_user", "login="+login, "domain="+domain, "remote_address=127.0.0.1")
	res := resultOf(t, parseJSON(t, r.stdout), "create_webmail_session_for_mail_user")
	data, _ := res["data"].(map[string]any)
	token, _ = data["token"].(string)
	session, _ = data["session"].(string)
	if r.code != 0 || token == "" || session == "" {
		t.Fatalf("uapi session for %s@%s: %s", login, domain, r)
	}
	return token, session
}

var tokenSecret = regexp.MustCompile(`(?m)^[0-9A-Z]{32}$`)

func TestVersion(t *testing.T) {
	for _, arg := range []string{"version", "--version"} {
		r := uapid(t, arg)
		if r.code != 0 || !strings.HasPrefix(r.stdout, "uapid ") || len(strings.TrimSpace(r.stdout)) <= len("uapid ") || strings.Count(r.stdout, "\n") != 1 {
			t.Errorf("uapid %s: %s", arg, r)
		}
	}
}

func TestTopLevelUsage(t *testing.T) {
	if r := uapid(t); r.code != 2 || r.stdout != "" || !strings.Contains(r.stderr, "usage: uapid") {
		t.Errorf("uapid without a command: %s", r)
	}
	if r := uapid(t, "frobnicate"); r.code != 2 || r.stdout != "" || !strings.HasPrefix(r.stderr, "uapid: ") || !strings.Contains(r.stderr, "frobnicate") {
		t.Errorf("uapid frobnicate: %s", r)
	}
	if r := uapid(t, "help"); r.code != 0 || !strings.Contains(r.stdout, "usage: uapid") {
		t.Errorf("uapid help: %s", r)
	}
}

func TestImport(t *testing.T) {
	dir := importedDir(t)
	accounts := ok(t, dir, "", "account", "list")
	mailboxes := ok(t, dir, "", "mailbox", "list")
	tokens := ok(t, dir, "", "token", "list", "alice")
	for _, u := range []string{"alice", "bob", "res", "carol", "sam"} {
		if !contains(column(accounts, 0), u) {
			t.Errorf("account list lacks %s:\n%s", u, accounts)
		}
	}
	// Importing again changes nothing.
	fx := writeFile(t, "again.yaml", testserver.Fixture)
	if out := ok(t, dir, "", "import", fx); !strings.Contains(out, fx) {
		t.Errorf("import output %q does not name the file", out)
	}
	if got := ok(t, dir, "", "account", "list"); got != accounts {
		t.Errorf("account list changed by a second import:\n%s\nthen\n%s", accounts, got)
	}
	if got := ok(t, dir, "", "mailbox", "list"); got != mailboxes {
		t.Errorf("mailbox list changed by a second import:\n%s\nthen\n%s", mailboxes, got)
	}
	if got := ok(t, dir, "", "token", "list", "alice"); got != tokens {
		t.Errorf("token list changed by a second import:\n%s\nthen\n%s", tokens, got)
	}
	// The fixture's passwords still work after the second import.
	newSession(t, dir, "alice", "info", "alice.test")

	t.Run("bad fixture", func(t *testing.T) {
		for _, tc := range []struct{ name, content, line string }{
			{"YAML error", "accounts:\n  - user: x\n    domains: [x.test\n", `\d+`},
			{"bad value", "accounts:\n  - user: x\n    password: p\n    domains: [x.test]\n    locale: 42x!\n", "5"},
			{"domain of another account", "accounts:\n  - user: mallory\n    password: p\n    domains: [alice.test]\n", "2"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				fx := writeFile(t, "bad.yaml", tc.content)
				line := oneLine(t, adm(t, dir, "", "import", fx), 1)
				if !regexp.MustCompile(`^uapid: ` + regexp.QuoteMeta(fx) + `:` + tc.line + `: \S`).MatchString(line) {
					t.Errorf("stderr %q is not \"uapid: %s:%s: reason\"", line, fx, tc.line)
				}
				if strings.Count(line, fx) != 1 {
					t.Errorf("stderr %q names the file more than once", line)
				}
			})
		}
	})
	t.Run("usage", func(t *testing.T) {
		oneLine(t, adm(t, dir, "", "import"), 2)
		oneLine(t, adm(t, dir, "", "import", fx, fx), 2)
		oneLine(t, adm(t, dir, "", "import", "--bogus", fx), 2)
	})
	t.Run("missing file", func(t *testing.T) {
		line := oneLine(t, adm(t, dir, "", "import", fx+".missing"), 1)
		if !strings.Contains(line, fx+".missing") {
			t.Errorf("stderr %q does not name the file", line)
		}
	})
}

func TestAccountCommands(t *testing.T) {
	dir := importedDir(t)

	out := ok(t, dir, "Dave-pass-1\n", "account", "add", "dave", "--domain", "Dave.test", "--domain", "shop.dave.test", "--database", "dave_db", "--password-stdin")
	if !strings.Contains(out, "dave") {
		t.Errorf("account add output %q", out)
	}
	list := ok(t, dir, "", "account", "list")
	var dave []string
	for _, r := range rows(list) {
		if r[0] == "dave" {
			dave = r
		}
	}
	if want := []string{"dave", "root", "false", "false", "en", "dave.test,shop.dave.test"}; strings.Join(dave, " ") != strings.Join(want, " ") {
		t.Errorf("dave in account list = %q, want %q\n%s", dave, want, list)
	}
	// A reseller owning an account.
	ok(t, dir, "pw\n", "account", "add", "res2", "--domain", "res2.test", "--reseller", "--password-stdin")
	ok(t, dir, "pw\r\n", "account", "add", "--owner", "res2", "--locale", "de", "erin", "--domain", "erin.test", "--password-stdin")
	for _, r := range rows(ok(t, dir, "", "account", "list")) {
		if r[0] == "erin" && (r[1] != "res2" || r[4] != "de") {
			t.Errorf("erin = %q, want owner res2, locale de", r)
		}
		if r[0] == "res2" && r[2] != "true" {
			t.Errorf("res2 = %q, want a reseller", r)
		}
	}
	// The new account can create sessions for a mailbox of its own.
	ok(t, dir, "Mail-pass-1\n", "mailbox", "add", "post@dave.test", "--password-stdin")
	newSession(t, dir, "dave", "post", "dave.test")

	// Suspension ends the account's sessions.
	newSession(t, dir, "alice", "info", "alice.test")
	newSession(t, dir, "alice", "sales", "shop.alice.test")
	sessions := ok(t, dir, "", "session", "list", "--user", "alice")
	if users := column(sessions, 1); len(users) != 2 || !contains(users, "info@alice.test") || !contains(users, "sales@shop.alice.test") {
		t.Fatalf("session list --user alice:\n%s", sessions)
	}
	if out := ok(t, dir, "", "account", "suspend", "alice"); !strings.Contains(out, "2 session(s) ended") {
		t.Errorf("suspend output %q", out)
	}
	if rs := rows(ok(t, dir, "", "session", "list", "--user", "alice")); len(rs) != 0 {
		t.Errorf("sessions left after suspend: %q", rs)
	}
	for _, r := range rows(ok(t, dir, "", "account", "list")) {
		if r[0] == "alice" && r[3] != "true" {
			t.Errorf("alice after suspend = %q", r)
		}
	}
	ok(t, dir, "", "account", "unsuspend", "alice")
	for _, r := range rows(ok(t, dir, "", "account", "list")) {
		if r[0] == "alice" && r[3] != "false" {
			t.Errorf("alice after unsuspend = %q", r)
		}
	}

	// passwd ends the account user's own sessions; its mailboxes have
	// passwords of their own and keep theirs (as in cPanel).
	newSession(t, dir, "bob", "info", "bob.test")
	if r := uapiRun(t, dir, "--user=bob", "Session", "create_webmail_session_for_self", "remote_address=127.0.0.1"); r.code != 0 {
		t.Fatalf("session for bob: %s", r)
	}
	if out := ok(t, dir, "New-pass-2\n", "account", "passwd", "bob", "--password-stdin"); !strings.Contains(out, "1 session(s) ended") {
		t.Errorf("passwd output %q", out)
	}
	if users := column(ok(t, dir, "", "session", "list", "--user", "bob"), 1); len(users) != 1 || users[0] != "info@bob.test" {
		t.Errorf("sessions of bob after passwd: %q, want the mailbox's only", users)
	}

	// remove
	newSession(t, dir, "dave", "post", "dave.test")
	if out := ok(t, dir, "", "account", "remove", "dave"); !strings.Contains(out, "2 session(s) ended") {
		t.Errorf("remove output %q", out)
	}
	if contains(column(ok(t, dir, "", "account", "list"), 0), "dave") {
		t.Error("dave still listed after remove")
	}
	if contains(column(ok(t, dir, "", "mailbox", "list"), 0), "post@dave.test") {
		t.Error("dave's mailbox still listed after remove")
	}

	errorsTests := []struct {
		name  string
		stdin string
		args  []string
		code  int
		want  string
	}{
		{"duplicate account", "pw\n", []string{"account", "add", "alice", "--domain", "new-alice.test", "--password-stdin"}, 1, "alice"},
		{"domain of another account", "pw\n", []string{"account", "add", "frank", "--domain", "alice.test", "--password-stdin"}, 1, "alice.test"},
		{"invalid user name", "pw\n", []string{"account", "add", "Not_Valid", "--domain", "nv.test", "--password-stdin"}, 1, "not_valid"},
		{"owner not a reseller", "pw\n", []string{"account", "add", "gina", "--domain", "gina.test", "--owner", "bob", "--password-stdin"}, 1, "bob"},
		{"suspend unknown", "", []string{"account", "suspend", "nobody"}, 1, "nobody"},
		{"unsuspend unknown", "", []string{"account", "unsuspend", "nobody"}, 1, "nobody"},
		{"remove unknown", "", []string{"account", "remove", "nobody"}, 1, "nobody"},
		{"passwd unknown", "pw\n", []string{"account", "passwd", "nobody", "--password-stdin"}, 1, "nobody"},
		{"remove reseller with accounts", "", []string{"account", "remove", "res2"}, 1, "res2"},
		{"no subcommand", "", []string{"account"}, 2, "usage"},
		{"unknown subcommand", "", []string{"account", "frob", "alice"}, 2, "usage"},
		{"add without user", "pw\n", []string{"account", "add", "--domain", "x.test", "--password-stdin"}, 2, "usage"},
		{"add without domain", "pw\n", []string{"account", "add", "henry", "--password-stdin"}, 2, "--domain"},
		{"suspend without user", "", []string{"account", "suspend"}, 2, "usage"},
		{"two users", "", []string{"account", "remove", "alice", "bob"}, 2, "usage"},
		{"unknown flag", "", []string{"account", "list", "--verbose"}, 2, "verbose"},
		{"add without --password-stdin", "pw\n", []string{"account", "add", "ivan", "--domain", "ivan.test"}, 2, "--password-stdin"},
		{"passwd without --password-stdin", "pw\n", []string{"account", "passwd", "alice"}, 2, "--password-stdin"},
		{"empty password", "\n", []string{"account", "add", "jane", "--domain", "jane.test", "--password-stdin"}, 2, "empty"},
		{"no password at all", "", []string{"account", "passwd", "alice", "--password-stdin"}, 2, "empty"},
	}
	for _, tc := range errorsTests {
		t.Run(tc.name, func(t *testing.T) {
			line := oneLine(t, adm(t, dir, tc.stdin, tc.args...), tc.code)
			if !strings.Contains(line, tc.want) {
				t.Errorf("stderr %q does not mention %q", line, tc.want)
			}
		})
	}
	// Nothing was created by the failed commands.
	names := column(ok(t, dir, "", "account", "list"), 0)
	for _, u := range []string{"frank", "gina", "henry", "ivan", "jane", "not_valid"} {
		if contains(names, u) {
			t.Errorf("failed add created %s", u)
		}
	}
}

func TestMailboxCommands(t *testing.T) {
	dir := importedDir(t)
	// The domain's owner is the default account.
	if out := ok(t, dir, "Pw-1\n", "mailbox", "add", "New@Shop.Alice.test", "--password-stdin"); !strings.Contains(out, "new@shop.alice.test") || !strings.Contains(out, "alice") {
		t.Errorf("mailbox add output %q", out)
	}
	ok(t, dir, "Pw-2\n", "mailbox", "add", "second@alice.test", "--account", "alice", "--password-stdin")
	list := ok(t, dir, "", "mailbox", "list", "--account", "alice")
	for _, a := range []string{"info@alice.test", "new@shop.alice.test", "second@alice.test"} {
		if !contains(column(list, 0), a) {
			t.Errorf("mailbox list --account alice lacks %s:\n%s", a, list)
		}
	}
	if contains(column(list, 0), "info@bob.test") {
		t.Errorf("mailbox list --account alice shows bob's mailbox:\n%s", list)
	}
	if all := ok(t, dir, "", "mailbox", "list"); !contains(column(all, 0), "info@bob.test") || !contains(column(all, 0), "second@alice.test") {
		t.Errorf("mailbox list:\n%s", all)
	}
	suspended := func(addr string) string {
		for _, r := range rows(ok(t, dir, "", "mailbox", "list")) {
			if r[0] == addr {
				return r[2]
			}
		}
		return "missing"
	}

	newSession(t, dir, "alice", "new", "shop.alice.test")
	newSession(t, dir, "alice", "info", "alice.test")
	if out := ok(t, dir, "", "mailbox", "suspend", "new@shop.alice.test"); !strings.Contains(out, "1 session(s) ended") {
		t.Errorf("mailbox suspend output %q", out)
	}
	if s := suspended("new@shop.alice.test"); s != "true" {
		t.Errorf("login suspended = %s after suspend", s)
	}
	// Only that mailbox's sessions ended.
	if users := column(ok(t, dir, "", "session", "list", "--user", "alice"), 1); len(users) != 1 || users[0] != "info@alice.test" {
		t.Errorf("sessions after mailbox suspend: %q", users)
	}
	ok(t, dir, "", "mailbox", "unsuspend", "new@shop.alice.test")
	if s := suspended("new@shop.alice.test"); s != "false" {
		t.Errorf("login suspended = %s after unsuspend", s)
	}
	newSession(t, dir, "alice", "new", "shop.alice.test")
	if out := ok(t, dir, "Pw-3\n", "mailbox", "passwd", "new@shop.alice.test", "--password-stdin"); !strings.Contains(out, "1 session(s) ended") {
		t.Errorf("mailbox passwd output %q", out)
	}
	ok(t, dir, "", "mailbox", "remove", "new@shop.alice.test")
	if s := suspended("new@shop.alice.test"); s != "missing" {
		t.Errorf("removed mailbox still listed")
	}

	for _, tc := range []struct {
		name  string
		stdin string
		args  []string
		code  int
		want  string
	}{
		{"duplicate", "pw\n", []string{"mailbox", "add", "info@alice.test", "--password-stdin"}, 1, "info@alice.test"},
		{"unknown domain", "pw\n", []string{"mailbox", "add", "x@nowhere.test", "--password-stdin"}, 1, "nowhere.test"},
		{"domain of another account", "pw\n", []string{"mailbox", "add", "x@bob.test", "--account", "alice", "--password-stdin"}, 1, "bob.test"},
		{"unknown account", "pw\n", []string{"mailbox", "add", "x@alice.test", "--account", "nobody", "--password-stdin"}, 1, "nobody"},
		{"suspend unknown", "", []string{"mailbox", "suspend", "nobody@alice.test"}, 1, "nobody@alice.test"},
		{"remove unknown", "", []string{"mailbox", "remove", "nobody@alice.test"}, 1, "nobody@alice.test"},
		{"passwd unknown", "pw\n", []string{"mailbox", "passwd", "nobody@alice.test", "--password-stdin"}, 1, "nobody@alice.test"},
		{"list unknown account", "", []string{"mailbox", "list", "--account", "nobody"}, 1, "nobody"},
		{"no subcommand", "", []string{"mailbox"}, 2, "usage"},
		{"unknown subcommand", "", []string{"mailbox", "frob", "info@alice.test"}, 2, "usage"},
		{"not an address", "pw\n", []string{"mailbox", "add", "info", "--password-stdin"}, 2, "info"},
		{"missing address", "", []string{"mailbox", "suspend"}, 2, "usage"},
		{"add without --password-stdin", "pw\n", []string{"mailbox", "add", "y@alice.test"}, 2, "--password-stdin"},
		{"passwd without --password-stdin", "pw\n", []string{"mailbox", "passwd", "info@alice.test"}, 2, "--password-stdin"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			line := oneLine(t, adm(t, dir, tc.stdin, tc.args...), tc.code)
			if !strings.Contains(line, tc.want) {
				t.Errorf("stderr %q does not mention %q", line, tc.want)
			}
		})
	}
}

func TestSessionCommands(t *testing.T) {
	dir := importedDir(t)
	newSession(t, dir, "alice", "info", "alice.test")
	newSession(t, dir, "alice", "info", "alice.test")
	_, salesSession := newSession(t, dir, "alice", "sales", "shop.alice.test")
	newSession(t, dir, "bob", "info", "bob.test")

	all := ok(t, dir, "", "session", "list")
	if n := len(rows(all)); n != 4 {
		t.Fatalf("session list has %d rows, want 4:\n%s", n, all)
	}
	if strings.Contains(all, salesSession) || strings.Contains(all, strings.SplitN(salesSession, ":", 2)[1]) {
		t.Errorf("session list shows a session secret:\n%s", all)
	}
	for _, r := range rows(all) {
		if len(r) != 8 || r[2] != "webmaild" || r[3] != "unused" || r[6] != "127.0.0.1" {
			t.Errorf("session row %q", r)
		}
	}
	if users := column(ok(t, dir, "", "session", "list", "--user", "info@alice.test"), 1); len(users) != 2 || users[0] != "info@alice.test" || users[1] != "info@alice.test" {
		t.Errorf("session list --user info@alice.test: %q", users)
	}
	if users := column(ok(t, dir, "", "session", "list", "--user", "bob"), 1); len(users) != 1 || users[0] != "info@bob.test" {
		t.Errorf("session list --user bob: %q", users)
	}

	// revoke --id
	var salesID string
	for _, r := range rows(all) {
		if r[1] == "sales@shop.alice.test" {
			salesID = r[0]
		}
	}
	if out := ok(t, dir, "", "session", "revoke", "--id", salesID); !strings.Contains(out, salesID) {
		t.Errorf("revoke --id output %q", out)
	}
	if users := column(ok(t, dir, "", "session", "list", "--user", "alice"), 1); contains(users, "sales@shop.alice.test") || len(users) != 2 {
		t.Errorf("after revoke --id: %q", users)
	}
	line := oneLine(t, adm(t, dir, "", "session", "revoke", "--id", salesID), 1)
	if !strings.Contains(line, salesID) {
		t.Errorf("revoking a revoked session: %q", line)
	}

	// revoke --user with a mailbox address, then an account
	if out := ok(t, dir, "", "session", "revoke", "--user", "info@alice.test"); !strings.Contains(out, "2 session(s)") {
		t.Errorf("revoke --user info@alice.test output %q", out)
	}
	if out := ok(t, dir, "", "session", "revoke", "--user", "bob"); !strings.Contains(out, "1 session(s)") {
		t.Errorf("revoke --user bob output %q", out)
	}
	if rs := rows(ok(t, dir, "", "session", "list")); len(rs) != 0 {
		t.Errorf("sessions left: %q", rs)
	}

	for _, tc := range []struct {
		name string
		args []string
		code int
	}{
		{"no subcommand", []string{"session"}, 2},
		{"unknown subcommand", []string{"session", "frob"}, 2},
		{"revoke without target", []string{"session", "revoke"}, 2},
		{"revoke with both", []string{"session", "revoke", "--user", "alice", "--id", "x"}, 2},
		{"positional argument", []string{"session", "list", "alice"}, 2},
		{"missing flag value", []string{"session", "revoke", "--id"}, 2},
		{"unknown mailbox", []string{"session", "list", "--user", "nobody@alice.test"}, 1},
		{"unknown id", []string{"session", "revoke", "--id", "nonesuch"}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			oneLine(t, adm(t, dir, "", tc.args...), tc.code)
		})
	}
}

func TestTokenCommandsOffline(t *testing.T) {
	dir := importedDir(t)
	out := ok(t, dir, "", "token", "create", "alice", "deploy", "--expires", "720h", "--allow-ip", "10.0.0.0/8", "--allow-ip", "192.0.2.7")
	secrets := tokenSecret.FindAllString(out, -1)
	if len(secrets) != 1 {
		t.Fatalf("token create printed %d tokens:\n%s", len(secrets), out)
	}
	list := ok(t, dir, "", "token", "list", "alice")
	if strings.Contains(list, secrets[0]) {
		t.Errorf("token list shows the secret:\n%s", list)
	}
	var deploy []string
	for _, r := range rows(list) {
		if r[0] == "deploy" {
			deploy = r
		}
	}
	if len(deploy) != 4 || deploy[2] == "never" || deploy[3] != "10.0.0.0/8,192.0.2.7/32" {
		t.Errorf("deploy token row %q:\n%s", deploy, list)
	}
	// Root's tokens.
	if out := ok(t, dir, "", "token", "create", "root", "ops"); len(tokenSecret.FindAllString(out, -1)) != 1 {
		t.Errorf("root token create: %s", out)
	}
	if list := ok(t, dir, "", "token", "list", "root"); !contains(column(list, 0), "ops") || !contains(column(list, 0), "billing") {
		t.Errorf("token list root:\n%s", list)
	}
	ok(t, dir, "", "token", "revoke", "alice", "deploy")
	if contains(column(ok(t, dir, "", "token", "list", "alice"), 0), "deploy") {
		t.Error("revoked token still listed")
	}
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no subcommand", []string{"token"}, 2, "usage"},
		{"unknown subcommand", []string{"token", "frob", "alice"}, 2, "usage"},
		{"create without name", []string{"token", "create", "alice"}, 2, "usage"},
		{"list without user", []string{"token", "list"}, 2, "usage"},
		{"revoke without name", []string{"token", "revoke", "alice"}, 2, "usage"},
		{"bad expiry", []string{"token", "create", "alice", "x", "--expires", "soon"}, 2, "expires"},
		{"bad allow-ip", []string{"token", "create", "alice", "x", "--allow-ip", "10.0.0.0/40"}, 2, "10.0.0.0/40"},
		{"negative expiry", []string{"token", "create", "alice", "x", "--expires", "-5h"}, 2, "--expires"},
		{"existing name", []string{"token", "create", "alice", "ci"}, 1, "ci"},
		{"unknown user", []string{"token", "create", "nobody", "x"}, 1, "nobody"},
		{"bad token name", []string{"token", "create", "alice", "bad name!"}, 1, "bad name!"},
		{"revoke unknown token", []string{"token", "revoke", "alice", "nonesuch"}, 1, "nonesuch"},
		{"list unknown user", []string{"token", "list", "nobody"}, 1, "nobody"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			line := oneLine(t, adm(t, dir, "", tc.args...), tc.code)
			if !strings.Contains(line, tc.want) {
				t.Errorf("stderr %q does not mention %q", line, tc.want)
			}
		})
	}
}

// TestAdminWhileServing runs the admin commands against the data directory
// of a running server and checks that the server sees the changes.
func TestAdminWhileServing(t *testing.T) {
	dir := importedDir(t)
	srv := testserver.Start(t, testserver.Options{DataDir: dir})
	const path = "/execute/Session/create_webmail_session_for_mail_user?login=info&domain=alice.test"
	status := func(authz string) int {
		t.Helper()
		return srv.Get("cpaneld", path, authz).StatusCode
	}

	// A new token authenticates; list never shows it; revoke ends it.
	out := ok(t, dir, "", "token", "create", "alice", "cli")
	secret := tokenSecret.FindString(out)
	if secret == "" {
		t.Fatalf("no token in %q", out)
	}
	if got := status(testserver.CPanelToken("alice", secret)); got != http.StatusOK {
		t.Errorf("new token: %d, want 200", got)
	}
	if list := ok(t, dir, "", "token", "list", "alice"); strings.Contains(list, secret) {
		t.Errorf("token list shows the secret:\n%s", list)
	}
	ok(t, dir, "", "token", "revoke", "alice", "cli")
	if got := status(testserver.CPanelToken("alice", secret)); got != http.StatusUnauthorized {
		t.Errorf("revoked token: %d, want 401", got)
	}

	// passwd: the old password stops working, the new one works.
	if got := status(testserver.Basic("alice", testserver.AlicePassword)); got != http.StatusOK {
		t.Fatalf("old password before passwd: %d", got)
	}
	ok(t, dir, "Brand-new-pass-7\n", "account", "passwd", "alice", "--password-stdin")
	if got := status(testserver.Basic("alice", testserver.AlicePassword)); got != http.StatusUnauthorized {
		t.Errorf("old password after passwd: %d, want 401", got)
	}
	if got := status(testserver.Basic("alice", "Brand-new-pass-7")); got != http.StatusOK {
		t.Errorf("new password: %d, want 200", got)
	}

	// Suspension: the account can no longer authenticate, and its sessions
	// are gone (the login fails).
	token, session := newSession(t, dir, "alice", "info", "alice.test")
	ok(t, dir, "", "account", "suspend", "alice")
	if got := status(testserver.CPanelToken("alice", testserver.AliceToken)); got != http.StatusUnauthorized {
		t.Errorf("suspended account's token: %d, want 401", got)
	}
	if resp := srv.PostForm(srv.Client(), "webmaild", token+"/login/?login_only=1", "", map[string][]string{"session": {session}}); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("login with a session of a suspended account: %d, want 401", resp.StatusCode)
	}
	ok(t, dir, "", "account", "unsuspend", "alice")
	if got := status(testserver.CPanelToken("alice", testserver.AliceToken)); got != http.StatusOK {
		t.Errorf("unsuspended account's token: %d, want 200", got)
	}

	// A session revoked from the command line cannot log in.
	token, session = newSession(t, dir, "alice", "info", "alice.test")
	ok(t, dir, "", "session", "revoke", "--user", "info@alice.test")
	if resp := srv.PostForm(srv.Client(), "webmaild", token+"/login/", "", map[string][]string{"session": {session}}); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("login with a revoked session: %d, want 401", resp.StatusCode)
	}
}

// TestSharedConfigFile: the admin commands and uapi find the store through
// the config file that serve uses; a fixture named there is loaded by serve
// and import only, so it does not undo the commands' changes.
func TestSharedConfigFile(t *testing.T) {
	dir := t.TempDir()
	fx := writeFile(t, "fixture.yaml", testserver.Fixture)
	cfg := writeFile(t, "uapid.yaml", "data: "+dir+"\nfixture: "+fx+"\n")
	cmd := func(stdin string, env map[string]string, args ...string) string {
		t.Helper()
		r := run(t, cli.Main, stdin, env, args...)
		if r.code != 0 || r.stderr != "" {
			t.Fatalf("uapid %q: %s", args, r)
		}
		return r.stdout
	}
	suspended := func(env map[string]string, args ...string) string {
		t.Helper()
		for _, r := range rows(cmd("", env, append([]string{"account", "list"}, args...)...)) {
			if r[0] == "alice" {
				return r[3]
			}
		}
		return "missing"
	}
	cmd("", nil, "import", "--config", cfg, fx)
	cmd("", nil, "account", "suspend", "alice", "--config", cfg)
	if s := suspended(nil, "--config", cfg); s != "true" {
		t.Errorf("alice suspended = %s after suspend (fixture re-applied?)", s)
	}
	if s := suspended(map[string]string{"UAPID_CONFIG": cfg}); s != "true" {
		t.Errorf("alice suspended = %s through UAPID_CONFIG", s)
	}
	if s := suspended(map[string]string{"UAPID_DATA": dir}); s != "true" {
		t.Errorf("alice suspended = %s through UAPID_DATA", s)
	}
	cmd("", nil, "account", "unsuspend", "alice", "--config", cfg)
	r := run(t, cli.UAPIMain, "", nil, "--config", cfg, "--user=alice", "Session", "create_webmail_session_for_mail_user", "login=info", "domain=alice.test", "remote_address=127.0.0.1")
	if r.code != 0 || !tokenLine.MatchString(r.stdout) {
		t.Errorf("uapi --config: %s", r)
	}
	cmd("", nil, "mailbox", "suspend", "info@alice.test", "--config", cfg)
	for _, row := range rows(cmd("", map[string]string{"UAPID_CONFIG": cfg}, "mailbox", "list")) {
		if row[0] == "info@alice.test" && row[2] != "true" {
			t.Errorf("info@alice.test = %q after mailbox suspend", row)
		}
	}
}
