package cli_test

import (
	"bufio"
	"crypto/tls"
	"io"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/uapid/uapid/internal/cli"
	"github.com/uapid/uapid/internal/mailstack/stacktest"
	"github.com/uapid/uapid/internal/testserver"
)

// TestWebmailConfig: `uapid webmail config` writes Dovecot's and
// Roundcube's files wired to the given uapid, with fresh secrets that only
// the secret files and the configuration holding them contain, and says
// what to give uapid.
func TestWebmailConfig(t *testing.T) {
	out := filepath.Join(t.TempDir(), "webmail")
	r := uapid(t, "webmail", "config", "--out", out, "--uapid-url", "https://mail.example.com:2096",
		"--roundcube-url", "https://mail.example.com/roundcube/", "--ca-file", "/etc/uapid/ca.pem")
	if r.code != 0 {
		t.Fatalf("webmail config: %s", r)
	}
	read := func(name string) string {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	rcSecret, dcSecret := strings.TrimSpace(read("uapid/roundcube.secret")), strings.TrimSpace(read("uapid/dovecot.secret"))
	if len(rcSecret) < 16 || len(dcSecret) < 16 || rcSecret == dcSecret {
		t.Fatalf("secrets %q %q", rcSecret, dcSecret)
	}
	for name, want := range map[string][]string{
		"dovecot/auth-uapid.conf.ext": {"driver = oauth2", "mechanisms = xoauth2 oauthbearer", "args = /etc/dovecot/dovecot-oauth2.conf.ext",
			"driver = lua", "file=/etc/dovecot/uapid-auth.lua", "ssl_client_ca_file = /etc/uapid/ca.pem"},
		"dovecot/dovecot-oauth2.conf.ext": {"introspection_mode = post", "introspection_url = https://dovecot:" + dcSecret + "@mail.example.com:2096/oauth2/introspect",
			"username_attribute = username", "active_attribute = active", "active_value = true", "tls_ca_cert_file = /etc/uapid/ca.pem"},
		"dovecot/uapid-auth.lua": {`url = "https://mail.example.com:2096"`, "/mailauth/v1/password", "/mailauth/v1/user", "function auth_password_verify", "function auth_userdb_lookup"},
		"roundcube/config.inc.php": {"$config['oauth_client_id'] = 'roundcube';", "$config['oauth_client_secret'] = '" + rcSecret + "';",
			"$config['oauth_auth_uri'] = 'https://mail.example.com:2096/oauth2/authorize';", "$config['oauth_token_uri'] = 'https://mail.example.com:2096/oauth2/token';",
			"$config['oauth_identity_uri'] = 'https://mail.example.com:2096/oauth2/userinfo';", "$config['oauth_login_redirect'] = true;",
			"$config['oauth_verify_peer'] = '/etc/uapid/ca.pem';", "$config['plugins'] = ['uapid'];", "debian-db-roundcube.php", "$config['imap_host'] = 'localhost:143';"},
		"roundcube/plugins/uapid/uapid.php": {"class uapid extends rcube_plugin", "/oauth2/revoke"},
	} {
		text := read(name)
		for _, w := range want {
			if !strings.Contains(text, w) {
				t.Errorf("%s lacks %q:\n%s", name, w, text)
			}
		}
	}
	if !strings.Contains(read("dovecot/uapid-auth.lua"), `authorization = "Basic `) {
		t.Error("the Lua script has no Authorization header")
	}
	// Secrets are not world-readable.
	for _, name := range []string{"uapid/roundcube.secret", "uapid/dovecot.secret", "dovecot/dovecot-oauth2.conf.ext", "dovecot/uapid-auth.lua", "roundcube/config.inc.php"} {
		st, err := os.Stat(filepath.Join(out, name))
		if err != nil || st.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s: mode %v, %v", name, st.Mode(), err)
		}
	}
	for _, want := range []string{"--oauth-clients roundcube:/etc/uapid/roundcube.secret:https://mail.example.com/roundcube/index.php/login/oauth",
		"--resource-servers dovecot:/etc/uapid/dovecot.secret", "--webmail-redirect https://mail.example.com/roundcube/", "!include auth-uapid.conf.ext"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("the instructions lack %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout+r.stderr, rcSecret) || strings.Contains(r.stdout+r.stderr, dcSecret) {
		t.Error("the command printed a secret")
	}
	// The files are what uapid's own flags accept.
	srvArgs := []string{"--oauth-clients", "roundcube:" + filepath.Join(out, "uapid/roundcube.secret") + ":https://mail.example.com/roundcube/index.php/login/oauth",
		"--resource-servers", "dovecot:" + filepath.Join(out, "uapid/dovecot.secret")}
	testserver.Start(t, testserver.Options{Args: srvArgs})

	// An existing directory is not overwritten; bad input is a usage error.
	if r := uapid(t, "webmail", "config", "--out", out, "--uapid-url", "https://m.example", "--roundcube-url", "https://m.example/"); r.code != 1 || !strings.Contains(r.stderr, "must not exist") {
		t.Errorf("existing directory: %s", r)
	}
	for _, args := range [][]string{
		{"--out", out + "2"},
		{"--out", out + "2", "--uapid-url", "ftp://m.example", "--roundcube-url", "https://m.example/"},
		{"--out", out + "2", "--uapid-url", "https://m.example/path/", "--roundcube-url", "https://m.example/"},
		{"--out", out + "2", "--uapid-url", "https://m.example", "--roundcube-url", "https://m.example/?x=1"},
		{"--out", out + "2", "--uapid-url", "https://m.example", "--roundcube-url", "https://m.example/", "--ca-file", "relative.pem"},
	} {
		if r := uapid(t, append([]string{"webmail", "config"}, args...)...); r.code != 2 {
			t.Errorf("%q: %s", args, r)
		}
	}
	if r := uapid(t, "webmail"); r.code != 2 {
		t.Errorf("webmail without subcommand: %s", r)
	}
}

// TestWebmailDemo: `uapid webmail demo` starts uapid, Dovecot and
// Roundcube wired together; its one-time login URL ends in Roundcube's
// inbox without a prompt (the browser test reads an inbox's messages).
func TestWebmailDemo(t *testing.T) {
	stacktest.Require(t)
	dir := filepath.Join(t.TempDir(), "demo")
	pr, pw := io.Pipe()
	var errb testserver.SyncBuffer
	stop, ready := make(chan struct{}), make(chan struct{})
	done := make(chan int, 1)
	env := &cli.Env{Stdin: strings.NewReader(""), Stdout: pw, Stderr: &errb, Getenv: func(string) string { return "" }, Ready: ready, Stop: stop}
	go func() { done <- cli.Main([]string{"webmail", "demo", "--dir", dir}, env); pw.Close() }()
	lines := make(chan string, 200)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	t.Cleanup(func() {
		close(stop)
		select {
		case code := <-done:
			if code != 0 {
				t.Errorf("demo exited %d:\n%s", code, errb.String())
			}
		case <-time.After(60 * time.Second):
			t.Error("the demo did not stop")
		}
	})
	loginRE := regexp.MustCompile(`^  (https://127\.0\.0\.1:[0-9]+/cpsess[0-9]{10}/login/\?session=\S+)$`)
	var login string
	timeout := time.After(90 * time.Second)
	for login == "" {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("the demo ended before printing its login URL:\n%s", errb.String())
			}
			if m := loginRE.FindStringSubmatch(l); m != nil {
				login = m[1]
			}
		case <-timeout:
			t.Fatalf("no login URL from the demo:\n%s", errb.String())
		}
	}
	go func() {
		for range lines {
		}
	}()
	<-ready
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 30 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} // the demo's own self-signed certificate
	resp, err := c.Get(login)
	if err != nil {
		t.Fatalf("follow the login: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	page, final := string(b), resp.Request.URL.String()
	if !strings.Contains(page, "<title>Webmail :: Inbox") || !strings.HasSuffix(final, "/?_task=mail") {
		t.Fatalf("the demo's login ends at %s, not Roundcube's inbox:\n%.400s", final, page)
	}
}
