package server_test

import (
	"bufio"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/uapid/uapid/internal/audit"
	"github.com/uapid/uapid/internal/store/sqlstore"
	"github.com/uapid/uapid/internal/testserver"
	"github.com/uapid/uapid/internal/testutil"
)

// TestAuditTrailAndNoSecretsInLogs runs every flow with debug logging and
// the audit log on, then checks the audit records and that no password,
// token, session secret, cookie or temporary database password appears in
// any output.
func TestAuditTrailAndNoSecretsInLogs(t *testing.T) {
	auditPath := filepath.Join(t.TempDir(), "audit.jsonl")
	rcFile, dcFile := filepath.Join(t.TempDir(), "rc.secret"), filepath.Join(t.TempDir(), "dc.secret")
	os.WriteFile(rcFile, []byte(rcSecret+"\n"), 0o600)
	os.WriteFile(dcFile, []byte(dovecotSecret+"\n"), 0o600)
	srv := testserver.Start(t, testserver.Options{Args: []string{"--log-level", "debug", "--audit-log", auditPath,
		"--bruteforce-ip-max", "5", "--trusted-proxies", "127.0.0.1",
		"--oauth-clients", rcID + ":" + rcFile + ":" + rcRedirect, "--resource-servers", dovecotName + ":" + dcFile}})
	secrets := []string{
		testserver.RootPassword, testserver.RootToken, testserver.AlicePassword, testserver.AliceToken,
		testserver.BobPassword, testserver.BobToken, testserver.ResPassword, testserver.ResToken,
		testserver.InfoPassword, testserver.SalesPassword, testserver.CarolMailPass, "Locked-pass-1", "wrong-guess-pass",
		rcSecret, dovecotSecret, "wrong-secret-0123456789",
	}
	cookieOf := func(r *testserver.Response) {
		for _, c := range r.Cookies() {
			if c.Value != "" && c.Name != "session_locale" { // the locale is no secret
				v, _ := url.QueryUnescape(c.Value)
				secrets = append(secrets, c.Value, v)
			}
		}
	}
	// Webmail session by token, login, landing, logout.
	s := createSession(t, srv, aliceToken(), mailQ("info", "alice.test"))
	secrets = append(secrets, s.Session, s.Session[strings.LastIndex(s.Session, ",")+1:])
	c := srv.Client()
	r := login(srv, c, "webmaild", s.Token, s.Session)
	cookieOf(r)
	srv.Do(c, mustReq(t, "GET", srv.URL("webmaild", s.Token+"/")))
	srv.Do(c, mustReq(t, "POST", srv.URL("webmaild", s.Token+"/logout/")))
	// A reused and a wrong secret.
	login(srv, srv.Client(), "webmaild", s.Token, s.Session)
	login(srv, srv.Client(), "webmaild", s.Token, s.Session[:len(s.Session)-1]+"0")
	// check_password, right and wrong, with Basic auth.
	q := url.Values{"login": {"info"}, "domain": {"alice.test"}, "password": {testserver.InfoPassword}}
	v := decodeResult(t, srv.Get("cpaneld", "/execute/Session/create_webmail_session_for_mail_user_check_password?"+q.Encode(), testserver.Basic("alice", testserver.AlicePassword)))
	secrets = append(secrets, v["data"].(map[string]any)["session"].(string))
	q.Set("password", "wrong-guess-pass")
	srv.Get("cpaneld", "/execute/Session/create_webmail_session_for_mail_user_check_password?"+q.Encode(), aliceToken())
	// Password logins.
	r = srv.PostForm(srv.Client(), "cpaneld", "/login/?login_only=1", "", url.Values{"user": {"alice"}, "pass": {testserver.AlicePassword}})
	cookieOf(r)
	srv.PostForm(srv.Client(), "cpaneld", "/login/?login_only=1", "", url.Values{"user": {"alice"}, "pass": {"wrong-guess-pass"}})
	// WHM single sign-on for a cPanel session (which reserves a temporary
	// database user and password) and following its URL.
	w := whm(t, srv, rootBasic, "create_user_session", url.Values{"user": {"alice"}, "service": {"cpaneld"}})
	d := w["data"].(map[string]any)
	secrets = append(secrets, d["session"].(string), url.QueryEscape(d["session"].(string)))
	u, _ := url.Parse(d["url"].(string))
	r = srv.Do(srv.Client(), mustReq(t, "GET", srv.URL("cpaneld", u.RequestURI())))
	cookieOf(r)
	// A brute-force block.
	for range 7 {
		req, _ := http.NewRequest("GET", srv.URL("cpaneld", selfFn), nil)
		req.Header.Set("Authorization", testserver.Basic("bob", "wrong-guess-pass"))
		req.Header.Set("X-Forwarded-For", "203.0.113.66")
		srv.Do(nil, req)
	}
	// OAuth: a code, tokens for it (client_secret_basic), a refresh
	// (client_secret_post), a replayed code, a wrong client secret,
	// introspection, user info, revocation; and a mail server's password
	// checks, right and wrong.
	oc, _ := webmailLogin(t, srv, "info", "alice.test")
	code := codeFor(t, srv, oc)
	tk := exchange(t, srv, code)
	secrets = append(secrets, code, tk.Access, tk.Refresh)
	r = srv.PostForm(nil, "webmaild", "/oauth2/token", "", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tk.Refresh},
		"client_id": {rcID}, "client_secret": {rcSecret}})
	if r.StatusCode != http.StatusOK {
		t.Fatalf("refresh: HTTP %d %s", r.StatusCode, r.Body)
	}
	tk2 := r.JSON(t)["access_token"].(string)
	secrets = append(secrets, tk2)
	tokenReq(t, srv, rcID, rcSecret, codeForm(code)) // a replay: revokes tk's tokens
	code2 := codeFor(t, srv, oc)
	secrets = append(secrets, code2)
	// The failures come from other addresses (the proxy's header is
	// believed), so that 127.0.0.1 stays under its limit.
	fromAddr := func(addr, path, authz string, form url.Values) {
		req, _ := http.NewRequest("POST", srv.URL("webmaild", path), strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Authorization", authz)
		req.Header.Set("X-Forwarded-For", addr)
		srv.Do(nil, req)
	}
	fromAddr("192.0.2.10", "/oauth2/token", testserver.Basic(rcID, "wrong-secret-0123456789"), codeForm(code2))
	tk3 := exchange(t, srv, code2) // the failed attempt did not spend it
	secrets = append(secrets, tk3.Access, tk3.Refresh)
	introspect(t, srv, tk3.Access, "")
	fromAddr("192.0.2.11", "/oauth2/introspect", testserver.Basic(dovecotName, "wrong-secret-0123456789"), url.Values{"token": {tk3.Access}})
	req := mustReq(t, "GET", srv.URL("webmaild", "/oauth2/userinfo"))
	req.Header.Set("Authorization", "Bearer "+tk3.Access)
	srv.Do(nil, req)
	srv.PostForm(nil, "webmaild", "/oauth2/revoke", testserver.Basic(rcID, rcSecret), url.Values{"token": {tk3.Access}})
	dcAuth := testserver.Basic(dovecotName, dovecotSecret)
	for _, pw := range []string{testserver.InfoPassword, "wrong-guess-pass"} {
		srv.PostForm(nil, "webmaild", "/mailauth/v1/password", dcAuth, url.Values{"user": {"info@alice.test"}, "password": {pw},
			"client": {"198.51.100.7"}, "protocol": {"imap"}})
	}
	srv.PostForm(nil, "webmaild", "/mailauth/v1/user", dcAuth, url.Values{"user": {"info@alice.test"}})

	// The reserved temporary database passwords are secrets too.
	db, err := sqlstore.OpenSQLiteSQL(filepath.Join(srv.DataDir, "uapid.db"))
	if err != nil {
		t.Fatal(err)
	}
	rows, err := db.Query(`SELECT temp_pass FROM sessions WHERE temp_pass <> ''`)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for rows.Next() {
		var p string
		rows.Scan(&p)
		secrets = append(secrets, p)
		n++
	}
	rows.Close()
	db.Close()
	if n == 0 {
		t.Fatal("no cPanel session reserved a temporary password")
	}
	srv.Stop()

	auditData, err := os.ReadFile(auditPath)
	if err != nil {
		t.Fatal(err)
	}
	checkNoSecrets(t, srv, auditData, secrets)

	// The audit records.
	find := auditEvents(t, auditData)
	e := find(audit.SessionCreate, "info@alice.test")
	if e.Actor != "alice" || e.Method != "create_webmail_session_for_mail_user" || e.Service != "webmaild" ||
		e.Client != "127.0.0.1" || e.UserAgent == "" || e.SecretFP != audit.Fingerprint(s.Session) || e.SessionID == "" {
		t.Fatalf("session.create record %+v", e)
	}
	if e := find(audit.SessionLogin, "info@alice.test"); e.SecretFP != audit.Fingerprint(s.Session) || e.Client != "127.0.0.1" {
		t.Fatalf("session.login record %+v", e)
	}
	find(audit.SessionLogout, "info@alice.test")
	if e := find(audit.SessionLoginFailed, "info@alice.test"); e.Reason != "invalid_session" {
		t.Fatalf("session.login_failed record %+v", e)
	}
	if e := find(audit.SessionCreate, "alice"); e.Actor != "root" && e.Method != "password" {
		t.Fatalf("second session.create record %+v", e)
	}
	if e := find(audit.BruteforceBlock, ""); e.Client != "203.0.113.66" {
		t.Fatalf("bruteforce.block record %+v", e)
	}
	if e := find(audit.OAuthCode, "info@alice.test"); e.Method != rcID || e.SessionID == "" || e.SecretFP != audit.Fingerprint(code) {
		t.Fatalf("oauth.code record %+v", e)
	}
	if e := find(audit.OAuthToken, "info@alice.test"); e.Actor != rcID || e.Method != "authorization_code" || e.SecretFP != audit.Fingerprint(tk.Access) {
		t.Fatalf("oauth.token record %+v", e)
	}
	find(audit.OAuthTokenFailed, "")
	if e := find(audit.OAuthRevoke, ""); e.Actor != rcID || e.SecretFP != audit.Fingerprint(tk3.Access) {
		t.Fatalf("oauth.revoke record %+v", e)
	}
	if e := find(audit.MailLogin, "info@alice.test"); e.Client != "198.51.100.7" || e.Method != "mail:imap" {
		t.Fatalf("mail.login record %+v", e)
	}
	if e := find(audit.MailLoginFailed, "info@alice.test"); e.Client != "198.51.100.7" || e.Reason != "invalid_login" {
		t.Fatalf("mail.login_failed record %+v", e)
	}
}

// checkNoSecrets fails the test when a secret appears in the server's
// output (with debug logging on) or its audit log.
func checkNoSecrets(t *testing.T, srv *testserver.Server, auditData []byte, secrets []string) {
	t.Helper()
	outputs := map[string]string{"stdout": srv.Stdout.String(), "stderr": srv.Stderr.String(), "audit log": string(auditData)}
	if !strings.Contains(outputs["stderr"], "level=DEBUG") {
		t.Fatal("debug logging was not on")
	}
	for name, out := range outputs {
		for _, sec := range secrets {
			if sec != "" && strings.Contains(out, sec) {
				t.Errorf("%s contains the secret %.6s…", name, sec)
			}
		}
	}
}

// auditEvents parses an audit log and returns a finder of its events:
// the first of event whose target is target ("" = any).
func auditEvents(t *testing.T, auditData []byte) func(event, target string) audit.Event {
	t.Helper()
	var events []audit.Event
	sc := bufio.NewScanner(strings.NewReader(string(auditData)))
	for sc.Scan() {
		var e audit.Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("audit line is not JSON: %s", sc.Text())
		}
		if e.Time.IsZero() || e.Event == "" {
			t.Fatalf("audit line without time or event: %s", sc.Text())
		}
		events = append(events, e)
	}
	return func(event, target string) audit.Event {
		t.Helper()
		for _, e := range events {
			if e.Event == event && (target == "" || e.Target == target) {
				return e
			}
		}
		t.Fatalf("no %s event for %q in:\n%s", event, target, auditData)
		return audit.Event{}
	}
}

// TestNoSecretsInLogsPhpMyAdminSignOn runs the phpMyAdmin sign-on (the
// test plays the browser and the sign-on script, against the real
// MariaDB) with debug logging and the audit log on, then checks that
// neither the temporary user's password (nor its name), the ticket, the
// handle nor the script's secret appears in any output, and the sign-on's
// audit records.
func TestNoSecretsInLogsPhpMyAdminSignOn(t *testing.T) {
	admin, dsn := testutil.MySQL(t)
	dir := t.TempDir()
	auditPath := filepath.Join(dir, "audit.jsonl")
	const rsSecret = "Pma-signon-secret-for-logs-0123"
	secretFile := filepath.Join(dir, "pma.secret")
	if err := os.WriteFile(secretFile, []byte(rsSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := testserver.Start(t, testserver.Options{Args: []string{"--log-level", "debug", "--audit-log", auditPath,
		"--mysql-dsn", dsn, "--resource-servers", "phpmyadmin:" + secretFile, "--phpmyadmin-url", "https://pma.example.test/"}})
	secrets := []string{testserver.RootPassword, testserver.AlicePassword, rsSecret, "Wrong-signon-secret-0123"}

	// The browser: WHM's login URL, the landing page, the phpMyAdmin link.
	w := whm(t, srv, rootBasic, "create_user_session", url.Values{"user": {"alice"}, "service": {"cpaneld"}})
	d := w["data"].(map[string]any)
	secrets = append(secrets, d["session"].(string), url.QueryEscape(d["session"].(string)))
	u, _ := url.Parse(d["url"].(string))
	c := srv.Client()
	r := srv.Do(c, mustReq(t, "GET", srv.URL("cpaneld", u.RequestURI())))
	for _, ck := range r.Cookies() {
		if ck.Name == "cpsession" {
			v, _ := url.QueryUnescape(ck.Value)
			secrets = append(secrets, ck.Value, v)
		}
	}
	token := d["cp_security_token"].(string)
	srv.Do(c, mustReq(t, "GET", srv.URL("cpaneld", token+"/")))
	r = srv.Do(c, mustReq(t, "GET", srv.URL("cpaneld", token+"/3rdparty/phpMyAdmin/")))
	loc, err := url.Parse(r.Header.Get("Location"))
	if r.StatusCode != http.StatusFound || err != nil {
		t.Fatalf("phpMyAdmin link: HTTP %d Location %q", r.StatusCode, r.Header.Get("Location"))
	}
	ticket := loc.Query().Get("uapid_signon")
	secrets = append(secrets, ticket)

	// The sign-on script: a wrong secret, the ticket, the handle, the spent
	// ticket.
	signOn := func(authz string, form url.Values) *testserver.Response {
		return srv.PostForm(srv.Client(), "cpaneld", "/3rdparty/phpMyAdmin/signon", authz, form)
	}
	if r := signOn(testserver.Basic("phpmyadmin", "Wrong-signon-secret-0123"), url.Values{"ticket": {ticket}}); r.StatusCode != 401 {
		t.Fatalf("wrong secret: HTTP %d", r.StatusCode)
	}
	pmaAuth := testserver.Basic("phpmyadmin", rsSecret)
	r = signOn(pmaAuth, url.Values{"ticket": {ticket}})
	var answer struct {
		Data struct{ User, Password, Handle string } `json:"data"`
	}
	if err := json.Unmarshal(r.Body, &answer); err != nil || r.StatusCode != 200 || answer.Data.Password == "" {
		t.Fatalf("sign-on: HTTP %d: %s", r.StatusCode, r.Body)
	}
	t.Cleanup(func() { admin.Exec("DROP USER IF EXISTS '" + answer.Data.User + "'@'localhost'") })
	secrets = append(secrets, answer.Data.User, answer.Data.Password, answer.Data.Handle)
	if r := signOn(pmaAuth, url.Values{"handle": {answer.Data.Handle}}); r.StatusCode != 200 {
		t.Fatalf("handle: HTTP %d: %s", r.StatusCode, r.Body)
	}
	if r := signOn(pmaAuth, url.Values{"ticket": {ticket}}); r.StatusCode != 403 {
		t.Fatalf("spent ticket: HTTP %d: %s", r.StatusCode, r.Body)
	}
	srv.Do(c, mustReq(t, "POST", srv.URL("cpaneld", token+"/logout/")))
	if r := signOn(pmaAuth, url.Values{"handle": {answer.Data.Handle}}); r.StatusCode != 403 {
		t.Fatalf("handle after logout: HTTP %d: %s", r.StatusCode, r.Body)
	}
	srv.Stop()

	auditData, err := os.ReadFile(auditPath)
	if err != nil {
		t.Fatal(err)
	}
	checkNoSecrets(t, srv, auditData, secrets)
	find := auditEvents(t, auditData)
	if e := find(audit.SignOnTicket, "alice"); e.SessionID == "" || e.SecretFP != audit.Fingerprint(ticket) {
		t.Fatalf("signon.ticket record %+v", e)
	}
	if e := find(audit.SignOnRedeem, "alice"); e.Actor != "phpmyadmin" || e.SecretFP != audit.Fingerprint(ticket) || e.Client != "127.0.0.1" {
		t.Fatalf("signon.redeem record %+v", e)
	}
	if e := find(audit.SignOnRefused, ""); e.Reason != "invalid_session" || e.SecretFP != audit.Fingerprint(ticket) {
		t.Fatalf("signon.refused record %+v", e)
	}
	if e := find(audit.TempUserCreate, "alice"); e.Method != "phpmyadmin_signon" || e.SecretFP != audit.Fingerprint(answer.Data.User) {
		t.Fatalf("tempuser.create record %+v", e)
	}
	find(audit.TempUserDrop, "alice")
}
