package e2e_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/uapid/uapid/internal/testserver"
)

// The phpMyAdmin sign-on (docs/phpmyadmin.md), against the real MariaDB
// and PostgreSQL but without phpMyAdmin: the test plays the browser and the
// sign-on script.

const (
	pmaSecret   = "Pma-signon-secret-0123456789"
	otherSecret = "Dovecot-secret-0123456789"
	pmaURL      = "https://pma.example.test/phpmyadmin/index.php?lang=en"
)

// startSignOn starts uapid for the cast with both database servers and the
// sign-on configured: the resource servers phpmyadmin and dovecot.
func startSignOn(t *testing.T, d *dbServers, c *cast) *node {
	t.Helper()
	dir := t.TempDir()
	pma, other := filepath.Join(dir, "pma.secret"), filepath.Join(dir, "dovecot.secret")
	for f, s := range map[string]string{pma: pmaSecret, other: otherSecret} {
		if err := os.WriteFile(f, []byte(s+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return startWithDBs(t, d, c, "--phpmyadmin-url", pmaURL, "--resource-servers", "phpmyadmin:"+pma+",dovecot:"+other)
}

// openPhpMyAdmin follows the landing page's phpMyAdmin link of the
// session and returns the ticket of the redirect.
func (s *cpSession) openPhpMyAdmin(t testing.TB) string {
	t.Helper()
	r := do(t, s.cl, "GET", s.n.url("cpaneld", s.token+"/3rdparty/phpMyAdmin/"), "")
	if r.StatusCode != http.StatusFound {
		t.Fatalf("phpMyAdmin link: HTTP %d: %s", r.StatusCode, r.body)
	}
	if r.Header.Get("Cache-Control") != "no-store" || r.Header.Get("Referrer-Policy") != "no-referrer" {
		t.Errorf("phpMyAdmin link: Cache-Control %q, Referrer-Policy %q", r.Header.Get("Cache-Control"), r.Header.Get("Referrer-Policy"))
	}
	u, err := url.Parse(r.Header.Get("Location"))
	if err != nil || u.Scheme != "https" || u.Host != "pma.example.test" || u.Path != "/phpmyadmin/index.php" || u.Query().Get("lang") != "en" {
		t.Fatalf("phpMyAdmin link redirects to %q, want --phpmyadmin-url with the ticket", r.Header.Get("Location"))
	}
	ticket := u.Query().Get("uapid_signon")
	if !regexp32hex(ticket) {
		t.Fatalf("ticket %q is not 32 lower-case hex", ticket)
	}
	return ticket
}

func regexp32hex(s string) bool {
	if len(s) != 32 {
		return false
	}
	return strings.Trim(s, "0123456789abcdef") == ""
}

// signOn posts form to the sign-on endpoint as the script does, with
// authz as its Authorization header.
func signOn(t testing.TB, n *node, authz string, form url.Values) *response {
	t.Helper()
	req, err := http.NewRequest("POST", n.url("cpaneld", "/3rdparty/phpMyAdmin/signon"), strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	resp, err := n.client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return &response{Response: resp, body: body}
}

var pmaAuth = testserver.Basic("phpmyadmin", pmaSecret)

// signOnData expects a sign-on answer and returns its data.
func signOnData(t testing.TB, r *response, what string) map[string]any {
	t.Helper()
	if r.StatusCode != 200 || r.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("%s: HTTP %d (Cache-Control %q): %s", what, r.StatusCode, r.Header.Get("Cache-Control"), r.body)
	}
	v := r.json(t)
	data, _ := v["data"].(map[string]any)
	if v["status"] != json.Number("1") || data == nil {
		t.Fatalf("%s: %s", what, r.body)
	}
	return data
}

// refused expects the sign-on endpoint's refusal with status and, for 403,
// the message.
func refused(t testing.TB, r *response, status int, message, what string) {
	t.Helper()
	if r.StatusCode != status {
		t.Fatalf("%s: HTTP %d, want %d: %s", what, r.StatusCode, status, r.body)
	}
	if strings.Contains(string(r.body), `"password"`) {
		t.Fatalf("%s: the refusal carries a password: %s", what, r.body)
	}
	if status == http.StatusUnauthorized {
		if r.Header.Get("WWW-Authenticate") == "" || string(r.body) != `{"status":0,"errors":["Access denied"],"data":null,"messages":null,"warnings":null,"metadata":{}}` {
			t.Fatalf("%s: the 401 is not the API's refusal: %q %s", what, r.Header.Get("WWW-Authenticate"), r.body)
		}
		return
	}
	if v := r.json(t); v["status"] != json.Number("0") || (message != "" && v["message"] != message) {
		t.Fatalf("%s: %s, want message %q", what, r.body, message)
	}
}

// TestSignOnRedeemsOnceForTheScriptOnly: the landing page links to
// phpMyAdmin; its route hands the browser a one-time ticket; only the
// resource server phpmyadmin can redeem it, once, for the session's
// temporary user, which uapid creates exactly as create_temp_user does;
// the handle keeps working while the session lives.
func TestSignOnRedeemsOnceForTheScriptOnly(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := needDBs(t)
	c := newCast(t, d)
	n := startSignOn(t, d, c)
	s := login(t, n, c.rootPass, c.A)

	landing := do(t, s.cl, "GET", n.url("cpaneld", s.token+"/"), "")
	if !strings.Contains(string(landing.body), `<a id="phpmyadmin" href="`+s.token+`/3rdparty/phpMyAdmin/">`) {
		t.Fatalf("the landing page does not link to phpMyAdmin:\n%s", landing.body)
	}
	ticket := s.openPhpMyAdmin(t)

	// Without valid credentials of the resource server: refused, and the
	// ticket is not spent by the attempt.
	refused(t, signOn(t, n, "", url.Values{"ticket": {ticket}}), 401, "", "no credentials")
	refused(t, signOn(t, n, testserver.Basic("phpmyadmin", pmaSecret+"x"), url.Values{"ticket": {ticket}}), 401, "", "a wrong secret")
	refused(t, signOn(t, n, testserver.Basic("nobody", pmaSecret), url.Values{"ticket": {ticket}}), 401, "", "an unknown resource server")
	refused(t, signOn(t, n, "Bearer "+pmaSecret, url.Values{"ticket": {ticket}}), 401, "", "another scheme")
	refused(t, signOn(t, n, testserver.Basic("dovecot", otherSecret), url.Values{"ticket": {ticket}}), 403, "", "another resource server")
	if name := ledger(t, n.dataDir); len(name) != 0 {
		t.Fatalf("refused sign-ons created temporary users %q", name)
	}

	data := signOnData(t, signOn(t, n, pmaAuth, url.Values{"ticket": {ticket}}), "redeem the ticket")
	name, _ := data["user"].(string)
	c.track(name)
	pass, _ := data["password"].(string)
	handle, _ := data["handle"].(string)
	if m := tempNameRE.FindStringSubmatch(name); m == nil || m[1] != c.A[:2] {
		t.Fatalf("sign-on user %q is not the session's cpses_ user", name)
	}
	if data["account"] != c.A || pass != tempPass(t, n.dataDir, name) || handle == "" {
		t.Fatalf("sign-on data %v (account, password of the session, handle)", data)
	}
	d.assertExists(t, name, "after the sign-on")
	checkMySQL(t, c, name, pass)
	// Created exactly once, as create_temp_user does it.
	wantNotCreated(t, s.call(t, "Session", "create_temp_user"), "create_temp_user after the sign-on")

	refused(t, signOn(t, n, pmaAuth, url.Values{"ticket": {ticket}}), 403, "invalid_session", "the ticket a second time")
	refused(t, signOn(t, n, pmaAuth, url.Values{"ticket": {strings.Repeat("0", 32)}}), 403, "invalid_session", "an unknown ticket")
	refused(t, signOn(t, n, pmaAuth, url.Values{"ticket": {"nonsense"}}), 403, "invalid_session", "a malformed ticket")

	again := signOnData(t, signOn(t, n, pmaAuth, url.Values{"handle": {handle}}), "the handle")
	if again["user"] != name || again["password"] != pass || again["handle"] != handle {
		t.Fatalf("the handle answers %v", again)
	}
	refused(t, signOn(t, n, pmaAuth, url.Values{"handle": {forge(handle)}}), 403, "invalid_session", "a forged handle")
	refused(t, signOn(t, n, "", url.Values{"handle": {handle}}), 401, "", "the handle without credentials")

	// A second ticket of the same session leads to the same user.
	second := signOnData(t, signOn(t, n, pmaAuth, url.Values{"ticket": {s.openPhpMyAdmin(t)}}), "a second ticket")
	if second["user"] != name || second["password"] != pass {
		t.Fatalf("a second ticket answers another user: %v", second)
	}

	// Bad requests.
	refused(t, signOn(t, n, pmaAuth, url.Values{}), 400, "", "neither ticket nor handle")
	refused(t, signOn(t, n, pmaAuth, url.Values{"ticket": {ticket}, "handle": {handle}}), 400, "", "both")
	if r := do(t, n.client(), "GET", n.url("cpaneld", "/3rdparty/phpMyAdmin/signon?handle="+url.QueryEscape(handle)), pmaAuth); r.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("GET of the sign-on endpoint: HTTP %d", r.StatusCode)
	}
	req, _ := http.NewRequest("POST", n.url("webmaild", "/3rdparty/phpMyAdmin/signon"), strings.NewReader("handle="+url.QueryEscape(handle)))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", pmaAuth)
	if resp, err := n.client().Do(req); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Fatalf("the sign-on endpoint on the Webmail port: %v %v", resp.StatusCode, err)
	}

	// Logout ends the sign-on: the handle is refused, the user is gone.
	s.logout(t)
	refused(t, signOn(t, n, pmaAuth, url.Values{"handle": {handle}}), 403, "invalid_session", "the handle after logout")
	d.waitGone(t, name, 0, "after logout")
	if err := d.mysqlLogin(t, name, pass).PingContext(ctx); mysqlErrNo(err) != 1045 && mysqlErrNo(err) != 1698 {
		t.Fatalf("the signed-on user after logout: %v, want access denied (1045 or 1698)", err)
	}
}

// TestSignOnRefusals: the sign-on refuses a cookie without its token (or
// with another), a browser without a session, Webmail and WHM sessions,
// and the session of a suspended account (its tickets and handles die
// with it).
func TestSignOnRefusals(t *testing.T) {
	t.Parallel()
	d := needDBs(t)
	c := newCast(t, d)
	n := startSignOn(t, d, c)
	s := login(t, n, c.rootPass, c.A)

	noTicket := func(r *response, status int, code, what string) {
		t.Helper()
		if r.StatusCode != status || r.Header.Get("Location") != "" {
			t.Fatalf("%s: HTTP %d Location %q, want %d and no redirect: %s", what, r.StatusCode, r.Header.Get("Location"), status, r.body)
		}
		if code != "" && !strings.Contains(string(r.body), `<code id="code">`+code+`</code>`) {
			t.Fatalf("%s: the failure page does not name %s:\n%s", what, code, r.body)
		}
	}
	// The session cookie without its /cpsess… token, or with another.
	noTicket(do(t, s.cl, "GET", n.url("cpaneld", "/3rdparty/phpMyAdmin/"), ""), 401, "token_missing", "a cookie without its token")
	noTicket(do(t, s.cl, "GET", n.url("cpaneld", "/cpsess0000000001/3rdparty/phpMyAdmin/"), ""), 401, "token_incorrect", "a cookie with another token")
	noTicket(do(t, n.client(), "GET", n.url("cpaneld", s.token+"/3rdparty/phpMyAdmin/"), ""), 401, "invalid_session", "a token without the cookie")
	if r := do(t, s.cl, "POST", n.url("cpaneld", s.token+"/3rdparty/phpMyAdmin/"), ""); r.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("POST to the phpMyAdmin link: HTTP %d", r.StatusCode)
	}

	// A Webmail session of the account, on the Webmail port and with its
	// cookie presented on the cPanel port.
	q := url.Values{"api.version": {"1"}, "user": {c.A}, "service": {"webmaild"}}
	v := do(t, n.client(), "GET", n.url("whostmgrd", "/json-api/create_user_session?"+q.Encode()), testserver.Basic("root", c.rootPass)).json(t)
	wd, _ := v["data"].(map[string]any)
	wu, err := url.Parse(wd["url"].(string))
	if err != nil {
		t.Fatal(err)
	}
	wu.Host = n.addrs["webmaild"]
	wm := n.client()
	if r := do(t, wm, "GET", wu.String(), ""); r.StatusCode != http.StatusFound {
		t.Fatalf("Webmail login: HTTP %d: %s", r.StatusCode, r.body)
	}
	wtok := wd["cp_security_token"].(string)
	r := do(t, wm, "GET", n.url("webmaild", wtok+"/3rdparty/phpMyAdmin/"), "")
	noTicket(r, http.StatusForbidden, "", "a Webmail session")
	if !strings.Contains(string(r.body), "opens from a cPanel session") {
		t.Fatalf("a Webmail session: the page does not say why:\n%s", r.body)
	}
	if landing := do(t, wm, "GET", n.url("webmaild", wtok+"/"), ""); strings.Contains(string(landing.body), "phpmyadmin") {
		t.Fatal("a Webmail landing page links to phpMyAdmin")
	}
	webmailURL, _ := url.Parse(n.url("webmaild", "/"))
	cp := n.client()
	cpURL, _ := url.Parse(n.url("cpaneld", "/"))
	for _, ck := range wm.Jar.Cookies(webmailURL) {
		cp.Jar.SetCookies(cpURL, []*http.Cookie{{Name: "cpsession", Value: ck.Value, Path: "/"}})
	}
	noTicket(do(t, cp, "GET", n.url("cpaneld", wtok+"/3rdparty/phpMyAdmin/"), ""), 401, "invalid_session", "a Webmail cookie on the cPanel port")

	// A WHM session (root's password login).
	whm := n.client()
	lr := do(t, whm, "POST", n.url("whostmgrd", "/login/?login_only=1&user=root&pass="+url.QueryEscape(c.rootPass)), "")
	var login struct {
		Token string `json:"security_token"`
	}
	if err := json.Unmarshal(lr.body, &login); err != nil || lr.StatusCode != 200 || !tokenRE.MatchString(login.Token) {
		t.Fatalf("WHM login: HTTP %d: %s", lr.StatusCode, lr.body)
	}
	noTicket(do(t, whm, "GET", n.url("whostmgrd", login.Token+"/3rdparty/phpMyAdmin/"), ""), http.StatusForbidden, "", "a WHM session")

	// The session of a suspended account: a ticket issued before the
	// suspension and the handle of an earlier sign-on are refused, and so
	// is the link.
	data := signOnData(t, signOn(t, n, pmaAuth, url.Values{"ticket": {s.openPhpMyAdmin(t)}}), "sign-on before the suspension")
	name, _ := data["user"].(string)
	c.track(name)
	handle, _ := data["handle"].(string)
	ticket := s.openPhpMyAdmin(t)
	sus := do(t, n.client(), "GET", n.url("whostmgrd", "/json-api/suspendacct?api.version=1&user="+c.A+"&reason=test"), testserver.Basic("root", c.rootPass))
	if md, _ := sus.json(t)["metadata"].(map[string]any); md["result"] != json.Number("1") {
		t.Fatalf("suspendacct: %s", sus.body)
	}
	refused(t, signOn(t, n, pmaAuth, url.Values{"ticket": {ticket}}), 403, "", "a ticket of a suspended account's session")
	refused(t, signOn(t, n, pmaAuth, url.Values{"handle": {handle}}), 403, "", "the handle of a suspended account's session")
	noTicket(do(t, s.cl, "GET", n.url("cpaneld", s.token+"/3rdparty/phpMyAdmin/"), ""), 401, "", "the link of a suspended account's session")
	d.waitGone(t, name, 0, "after the suspension")
}

// forge changes the last hex digit of a handle.
func forge(handle string) string {
	last := "0"
	if strings.HasSuffix(handle, "0") {
		last = "1"
	}
	return handle[:len(handle)-1] + last
}

// TestSignOnFromCreateUserSessionApp: WHM create_user_session with
// app=Database_phpMyAdmin lands, after the login, on phpMyAdmin's Jupiter
// path, which with --phpmyadmin-url is the sign-on itself: one step from a
// billing system's "open phpMyAdmin" button to a ticket.
func TestSignOnFromCreateUserSessionApp(t *testing.T) {
	t.Parallel()
	d := needDBs(t)
	c := newCast(t, d)
	n := startSignOn(t, d, c)
	q := url.Values{"api.version": {"1"}, "user": {c.A}, "service": {"cpaneld"}, "app": {"Database_phpMyAdmin"}}
	r := do(t, n.client(), "GET", n.url("whostmgrd", "/json-api/create_user_session?"+q.Encode()), testserver.Basic("root", c.rootPass))
	data, _ := r.json(t)["data"].(map[string]any)
	u, err := url.Parse(fmt.Sprint(data["url"]))
	if r.StatusCode != 200 || data == nil || err != nil {
		t.Fatalf("create_user_session: HTTP %d: %s", r.StatusCode, r.body)
	}
	u.Host = n.addrs["cpaneld"]
	cl := n.client()
	r = do(t, cl, "GET", u.String(), "")
	tok, _ := data["cp_security_token"].(string)
	if r.StatusCode != http.StatusFound || r.Header.Get("Location") != tok+"/3rdparty/phpMyAdmin/index.php" {
		t.Fatalf("login: HTTP %d Location %q, want %s/3rdparty/phpMyAdmin/index.php", r.StatusCode, r.Header.Get("Location"), tok)
	}
	s := &cpSession{n: n, cl: cl, token: tok}
	r = do(t, s.cl, "GET", n.url("cpaneld", tok+"/3rdparty/phpMyAdmin/index.php"), "")
	loc, _ := url.Parse(r.Header.Get("Location"))
	if r.StatusCode != http.StatusFound || loc == nil || loc.Host != "pma.example.test" || !regexp32hex(loc.Query().Get("uapid_signon")) {
		t.Fatalf("phpMyAdmin's Jupiter path: HTTP %d Location %q, want a redirect to --phpmyadmin-url with a ticket", r.StatusCode, r.Header.Get("Location"))
	}
	data = signOnData(t, signOn(t, n, testserver.Basic("phpmyadmin", pmaSecret), url.Values{"ticket": {loc.Query().Get("uapid_signon")}}), "the ticket")
	if user, _ := data["user"].(string); !strings.HasPrefix(user, "cpses_") {
		t.Fatalf("sign-on data %v: no temporary user", data)
	}
}
