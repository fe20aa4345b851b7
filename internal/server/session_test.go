package server_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uapid/uapid/internal/testserver"
)

var (
	tokenRE   = regexp.MustCompile(`^/cpsess[0-9]{10}$`)
	sessionRE = regexp.MustCompile(`^([^:]+):[0-9A-Za-z_]{16}:(CREATE_WEBMAIL_SESSION_FOR_MAIL_USER|CREATE_WEBMAIL_SESSION_FOR_SELF),[0-9a-f]{32}$`)
)

const mailUserFn = "/execute/Session/create_webmail_session_for_mail_user"

// created is a successful session creation.
type created struct{ Token, Session string }

func createSession(t *testing.T, srv *testserver.Server, authz string, q url.Values) created {
	t.Helper()
	r := srv.Get("cpaneld", mailUserFn+"?"+q.Encode(), authz)
	v := decodeResult(t, r)
	if v["status"] != json.Number("1") {
		t.Fatalf("create failed: %s", r.Body)
	}
	d := v["data"].(map[string]any)
	return created{Token: d["token"].(string), Session: d["session"].(string)}
}

func mailQ(login, domain string, extra ...string) url.Values {
	q := url.Values{"login": {login}, "domain": {domain}}
	for i := 0; i+1 < len(extra); i += 2 {
		q.Set(extra[i], extra[i+1])
	}
	return q
}

func TestCreateWebmailSessionSuccess(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{})
	r := srv.Get("cpaneld", mailUserFn+"?login=info&domain=alice.test", aliceToken())
	v := decodeResult(t, r)
	if v["status"] != json.Number("1") || v["errors"] != nil || v["messages"] != nil || v["warnings"] != nil {
		t.Fatalf("result %s", r.Body)
	}
	if md := v["metadata"].(map[string]any); md["transformed"] != json.Number("1") || len(md) != 1 {
		t.Fatalf("metadata %v, want {transformed: 1}", md)
	}
	d := v["data"].(map[string]any)
	if len(d) != 3 || d["hostname"] != nil {
		t.Fatalf("data %v: want exactly hostname (null), token, session", d)
	}
	if !tokenRE.MatchString(d["token"].(string)) || d["token"] == "/cpsess0000000000" {
		t.Fatalf("token %q", d["token"])
	}
	m := sessionRE.FindStringSubmatch(d["session"].(string))
	if m == nil || m[1] != "info@alice.test" || m[2] != "CREATE_WEBMAIL_SESSION_FOR_MAIL_USER" {
		t.Fatalf("session %q", d["session"])
	}
	// Matching is case-insensitive; the session's user is lower-case.
	c := createSession(t, srv, aliceToken(), mailQ("INFO", "Alice.TEST"))
	if !strings.HasPrefix(c.Session, "info@alice.test:") {
		t.Fatalf("session user of INFO@Alice.TEST: %q", c.Session)
	}
	// Tokens and secrets differ between sessions.
	c2 := createSession(t, srv, aliceToken(), mailQ("info", "alice.test"))
	if c.Token == c2.Token || c.Session == c2.Session {
		t.Fatal("two sessions share a token or secret")
	}
}

func TestWebmailHostnameReported(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{Args: []string{"--webmail-hostname", "mail.example.net"}})
	r := srv.Get("cpaneld", mailUserFn+"?login=info&domain=alice.test", aliceToken())
	if d := decodeResult(t, r)["data"].(map[string]any); d["hostname"] != "mail.example.net" {
		t.Fatalf("hostname %v", d["hostname"])
	}
}

func TestCreateWebmailSessionValidation(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{})
	cases := []struct {
		name  string
		authz string
		q     url.Values
		want  string
	}{
		{"remote_address not an IP", aliceToken(), mailQ("info", "alice.test", "remote_address", "foo"), "“foo” is not a valid IP address."},
		{"leading zero", aliceToken(), mailQ("info", "alice.test", "remote_address", "01.2.3.4"), "“01.2.3.4” is not a valid IP address."},
		{"first octet zero", aliceToken(), mailQ("info", "alice.test", "remote_address", "0.1.2.3"), "“0.1.2.3” is not a valid IP address."},
		{"octet > 255", aliceToken(), mailQ("info", "alice.test", "remote_address", "256.1.1.1"), "“256.1.1.1” is not a valid IP address."},
		{"three octets", aliceToken(), mailQ("info", "alice.test", "remote_address", "1.2.3"), "“1.2.3” is not a valid IP address."},
		{"IPv6 zone", aliceToken(), mailQ("info", "alice.test", "remote_address", "fe80::1%eth0"), "“fe80::1%eth0” is not a valid IP address."},
		// remote_address is checked before ownership
		{"bad IP before ownership", aliceToken(), mailQ("nobody", "alice.test", "remote_address", "x"), "“x” is not a valid IP address."},
		{"unknown mailbox", aliceToken(), mailQ("nobody", "alice.test"), "You do not have a user named “nobody@alice.test”."},
		{"another account's mailbox", aliceToken(), mailQ("info", "bob.test"), "You do not have a user named “info@bob.test”."},
		{"unknown domain", aliceToken(), mailQ("info", "nowhere.example"), "You do not have a user named “info@nowhere.example”."},
		{"quoted as written", aliceToken(), mailQ("Nobody", "Alice.Test"), "You do not have a user named “Nobody@Alice.Test”."},
		{"reseller's mailbox is not the account's", testserver.CPanelToken("bob", testserver.BobToken), mailQ("box", "carol.test"), "You do not have a user named “box@carol.test”."},
		// locale is checked after ownership
		{"ownership before locale", aliceToken(), mailQ("nobody", "alice.test", "locale", "xx"), "You do not have a user named “nobody@alice.test”."},
		{"unknown locale", aliceToken(), mailQ("info", "alice.test", "locale", "xx"), "“xx” does not refer to any of this system’s locales."},
		{"locale is case-sensitive", aliceToken(), mailQ("info", "alice.test", "locale", "EN"), "“EN” does not refer to any of this system’s locales."},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			wantError(t, decodeResult(t, srv.Get("cpaneld", mailUserFn+"?"+c.q.Encode(), c.authz)), c.want)
		})
	}
	okCases := []struct {
		name  string
		authz string
		q     url.Values
	}{
		{"IPv6 remote", aliceToken(), mailQ("info", "alice.test", "remote_address", "2001:db8::1")},
		{"empty remote_address counts as not given", aliceToken(), mailQ("info", "alice.test", "remote_address", "")},
		{"known locale", aliceToken(), mailQ("info", "alice.test", "locale", "pt_br")},
		{"second domain", aliceToken(), mailQ("sales", "shop.alice.test")},
		{"reseller owns its accounts' mailboxes", testserver.CPanelToken("res", testserver.ResToken), mailQ("box", "carol.test")},
		{"suspended login still gets a session", aliceToken(), mailQ("locked", "alice.test")},
	}
	for _, c := range okCases {
		t.Run(c.name, func(t *testing.T) { createSession(t, srv, c.authz, c.q) })
	}
}

func TestCheckPassword(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{})
	const fn = "/execute/Session/create_webmail_session_for_mail_user_check_password"
	typed := func(t *testing.T, q url.Values, typ, msg string) {
		t.Helper()
		v := decodeResult(t, srv.Get("cpaneld", fn+"?"+q.Encode(), aliceToken()))
		wantError(t, v, msg)
		d, _ := v["data"].(map[string]any)
		if d == nil || d["type"] != typ || d["detail"] != nil || len(d) != 2 {
			t.Fatalf("data %v, want {type: %s, detail: null}", v["data"], typ)
		}
	}
	pw := func(login, domain, pass string, extra ...string) url.Values {
		q := mailQ(login, domain, extra...)
		q.Set("password", pass)
		return q
	}
	// Only the first argument problem is reported.
	wantError(t, decodeResult(t, srv.Get("cpaneld", fn+"?login=&password=x", aliceToken())), "The “login” argument cannot be empty.")
	wantError(t, decodeResult(t, srv.Get("cpaneld", fn+"?login=info", aliceToken())), "Provide the “domain” argument.")
	wantError(t, decodeResult(t, srv.Get("cpaneld", fn+"?login=info&domain=alice.test", aliceToken())), "Provide the “password” argument.")

	typed(t, pw("nobody", "alice.test", "x"), "UserNotFound", "You do not have a user named “nobody@alice.test”.")
	typed(t, pw("info", "bob.test", "x"), "UserNotFound", "You do not have a user named “info@bob.test”.")
	typed(t, pw("locked", "alice.test", "Locked-pass-1"), "Suspended", "Logins for “locked@alice.test” are suspended.")
	typed(t, pw("info", "alice.test", "wrong"), "BadPassword", "The provided password is incorrect.")
	// Mailbox and password are checked before remote_address and locale.
	typed(t, pw("info", "alice.test", "wrong", "remote_address", "bad", "locale", "xx"), "BadPassword", "The provided password is incorrect.")
	wantError(t, decodeResult(t, srv.Get("cpaneld", fn+"?"+pw("info", "alice.test", testserver.InfoPassword, "remote_address", "bad").Encode(), aliceToken())),
		"“bad” is not a valid IP address.")
	wantError(t, decodeResult(t, srv.Get("cpaneld", fn+"?"+pw("info", "alice.test", testserver.InfoPassword, "locale", "xx").Encode(), aliceToken())),
		"“xx” does not refer to any of this system’s locales.")

	r := srv.Get("cpaneld", fn+"?"+pw("info", "alice.test", testserver.InfoPassword).Encode(), aliceToken())
	v := decodeResult(t, r)
	if v["status"] != json.Number("1") {
		t.Fatalf("right password: %s", r.Body)
	}
	d := v["data"].(map[string]any)
	if m := sessionRE.FindStringSubmatch(d["session"].(string)); m == nil || m[2] != "CREATE_WEBMAIL_SESSION_FOR_MAIL_USER" {
		t.Fatalf("session %v", d["session"])
	}
}

func TestCreateForSelfAndTempUser(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{})
	r := srv.Get("cpaneld", "/execute/Session/create_webmail_session_for_self", aliceToken())
	v := decodeResult(t, r)
	d := v["data"].(map[string]any)
	if m := sessionRE.FindStringSubmatch(d["session"].(string)); m == nil || m[1] != "alice" || m[2] != "CREATE_WEBMAIL_SESSION_FOR_SELF" {
		t.Fatalf("session %v", d["session"])
	}
	wantError(t, decodeResult(t, srv.Get("cpaneld", "/execute/Session/create_webmail_session_for_self?locale=zz", aliceToken())),
		"“zz” does not refer to any of this system’s locales.")
	// create_temp_user with token or Basic auth: created 0.
	for _, authz := range []string{aliceToken(), testserver.Basic("alice", testserver.AlicePassword)} {
		r = srv.Get("cpaneld", "/execute/Session/create_temp_user", authz)
		v = decodeResult(t, r)
		if v["status"] != json.Number("1") {
			t.Fatalf("create_temp_user: %s", r.Body)
		}
		if d := v["data"].(map[string]any); d["created"] != json.Number("0") || len(d) != 1 {
			t.Fatalf("data %v, want {created: 0}", d)
		}
	}
}

// login posts a session to the login URL of service.
func login(srv *testserver.Server, c *http.Client, service, token, session string, extra ...string) *testserver.Response {
	form := url.Values{"session": {session}}
	for i := 0; i+1 < len(extra); i += 2 {
		form.Set(extra[i], extra[i+1])
	}
	return srv.PostForm(c, service, token+"/login/", "", form)
}

func TestWebmailLoginOnce(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{})
	s := createSession(t, srv, aliceToken(), mailQ("info", "alice.test"))
	c := srv.Client()
	r := login(srv, c, "webmaild", s.Token, s.Session)
	if r.StatusCode != http.StatusFound {
		t.Fatalf("login HTTP %d: %s", r.StatusCode, r.Body)
	}
	if loc := r.Header.Get("Location"); loc != s.Token+"/" {
		t.Fatalf("Location %q, want %q", loc, s.Token+"/")
	}
	if r.Header.Get("Cache-Control") != "no-store" || r.Header.Get("Referrer-Policy") != "no-referrer" {
		t.Fatalf("headers %v", r.Header)
	}
	sc := r.Header.Get("Set-Cookie")
	for _, part := range []string{"webmailsession=", "HttpOnly", "Secure", "SameSite=Lax", "Path=/"} {
		if !strings.Contains(sc, part) {
			t.Fatalf("Set-Cookie %q lacks %q", sc, part)
		}
	}
	if strings.Contains(sc, url.QueryEscape(s.Session)) {
		t.Fatal("the cookie reuses the login secret; it must be a fresh one")
	}
	// Landing page names the mailbox.
	r = srv.Do(c, mustReq(t, "GET", srv.URL("webmaild", s.Token+"/")))
	if r.StatusCode != 200 || !strings.Contains(string(r.Body), "info@alice.test") {
		t.Fatalf("landing HTTP %d: %s", r.StatusCode, r.Body)
	}
	// A second use fails.
	r = login(srv, srv.Client(), "webmaild", s.Token, s.Session)
	wantLoginFailure(t, r, "invalid_session")
	r = login(srv, srv.Client(), "webmaild", s.Token, s.Session, "login_only", "1")
	if r.StatusCode != 401 {
		t.Fatalf("login_only reuse: HTTP %d", r.StatusCode)
	}
	assertJSONEq(t, r, map[string]any{"status": json.Number("0"), "message": "invalid_session"})
}

func mustReq(t *testing.T, method, u string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

func assertJSONEq(t *testing.T, r *testserver.Response, want map[string]any) {
	t.Helper()
	got := r.JSON(t)
	if len(got) != len(want) {
		t.Fatalf("JSON %v, want %v", got, want)
	}
	for k, w := range want {
		if got[k] != w {
			t.Fatalf("JSON %v, want %v", got, want)
		}
	}
}

func wantLoginFailure(t *testing.T, r *testserver.Response, code string) {
	t.Helper()
	if r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("HTTP %d, want 401 (%s): %s", r.StatusCode, code, r.Body)
	}
	if !strings.Contains(string(r.Body), `<code id="code">`+code+`</code>`) {
		t.Fatalf("failure page does not name %s: %s", code, r.Body)
	}
	if r.Header.Get("Set-Cookie") != "" {
		t.Fatalf("a failed login set a cookie: %s", r.Header.Get("Set-Cookie"))
	}
}

func TestConcurrentLoginsExactlyOne(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{})
	s := createSession(t, srv, aliceToken(), mailQ("info", "alice.test"))
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[int]int{}
	for range 50 {
		wg.Go(func() {
			r := login(srv, srv.Client(), "webmaild", s.Token, s.Session, "login_only", "1")
			mu.Lock()
			codes[r.StatusCode]++
			mu.Unlock()
		})
	}
	wg.Wait()
	if codes[200] != 1 || codes[401] != 49 {
		t.Fatalf("status counts %v, want exactly one 200 and 49 401", codes)
	}
}

func TestLoginFailures(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{})
	fresh := func() created { return createSession(t, srv, aliceToken(), mailQ("info", "alice.test")) }

	t.Run("other service", func(t *testing.T) {
		s := fresh()
		wantLoginFailure(t, login(srv, srv.Client(), "cpaneld", s.Token, s.Session), "invalid_session")
		wantLoginFailure(t, login(srv, srv.Client(), "whostmgrd", s.Token, s.Session), "invalid_session")
		// the refusals did not consume it
		if r := login(srv, srv.Client(), "webmaild", s.Token, s.Session); r.StatusCode != 302 {
			t.Fatalf("HTTP %d after refusals on other services", r.StatusCode)
		}
	})
	t.Run("wrong token", func(t *testing.T) {
		s := fresh()
		other := "/cpsess0123456789"
		if other == s.Token {
			other = "/cpsess0123456788"
		}
		wantLoginFailure(t, login(srv, srv.Client(), "webmaild", other, s.Session), "token_incorrect")
	})
	t.Run("unknown and malformed sessions", func(t *testing.T) {
		s := fresh()
		bad := strings.Replace(s.Session, s.Session[len(s.Session)-4:], "0000", 1)
		wantLoginFailure(t, login(srv, srv.Client(), "webmaild", s.Token, bad), "invalid_session")
		wantLoginFailure(t, login(srv, srv.Client(), "webmaild", s.Token, "garbage"), "invalid_session")
		wantLoginFailure(t, login(srv, srv.Client(), "webmaild", s.Token, ""), "invalid_session")
	})
	t.Run("changed ip under strict", func(t *testing.T) {
		s := createSession(t, srv, aliceToken(), mailQ("info", "alice.test", "remote_address", "10.9.8.7"))
		wantLoginFailure(t, login(srv, srv.Client(), "webmaild", s.Token, s.Session), "changed_ip")
	})
	t.Run("suspended mailbox", func(t *testing.T) {
		s := createSession(t, srv, aliceToken(), mailQ("locked", "alice.test"))
		wantLoginFailure(t, login(srv, srv.Client(), "webmaild", s.Token, s.Session), "invalid_login")
	})
	t.Run("login_only JSON", func(t *testing.T) {
		s := createSession(t, srv, aliceToken(), mailQ("info", "alice.test", "remote_address", "10.9.8.7"))
		r := login(srv, srv.Client(), "webmaild", s.Token, s.Session, "login_only", "1")
		if r.StatusCode != 401 {
			t.Fatalf("HTTP %d", r.StatusCode)
		}
		assertJSONEq(t, r, map[string]any{"status": json.Number("0"), "message": "changed_ip"})
	})
	t.Run("GET login works too", func(t *testing.T) {
		s := fresh()
		r := srv.Do(srv.Client(), mustReq(t, "GET", srv.URL("webmaild", s.Token+"/login/?session="+url.QueryEscape(s.Session))))
		if r.StatusCode != 302 {
			t.Fatalf("HTTP %d: %s", r.StatusCode, r.Body)
		}
		r = srv.Do(srv.Client(), mustReq(t, "GET", srv.URL("webmaild", s.Token+"/login?session="+url.QueryEscape(s.Session))))
		wantLoginFailure(t, r, "invalid_session")
	})
	t.Run("goto_uri", func(t *testing.T) {
		s := fresh()
		r := login(srv, srv.Client(), "webmaild", s.Token, s.Session, "goto_uri", "/mail/inbox?x=1")
		if loc := r.Header.Get("Location"); loc != s.Token+"/mail/inbox?x=1" {
			t.Fatalf("Location %q", loc)
		}
		for _, g := range []string{"https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)"} {
			s := fresh()
			r := login(srv, srv.Client(), "webmaild", s.Token, s.Session, "goto_uri", g)
			if loc := r.Header.Get("Location"); loc != s.Token+"/" {
				t.Fatalf("goto_uri %q led to %q", g, loc)
			}
		}
	})
}

func TestLoginLooseAndDisabledAddressChecks(t *testing.T) {
	for _, mode := range []string{"loose", "disabled"} {
		t.Run(mode, func(t *testing.T) {
			srv := testserver.Start(t, testserver.Options{Args: []string{"--ip-validation", mode}})
			s := createSession(t, srv, aliceToken(), mailQ("info", "alice.test", "remote_address", "127.0.0.99"))
			if r := login(srv, srv.Client(), "webmaild", s.Token, s.Session); r.StatusCode != 302 {
				t.Fatalf("same /24 under %s: HTTP %d", mode, r.StatusCode)
			}
			s = createSession(t, srv, aliceToken(), mailQ("info", "alice.test", "remote_address", "10.0.0.1"))
			r := login(srv, srv.Client(), "webmaild", s.Token, s.Session)
			if mode == "loose" {
				wantLoginFailure(t, r, "changed_ip")
			} else if r.StatusCode != 302 {
				t.Fatalf("disabled: HTTP %d", r.StatusCode)
			}
		})
	}
}

func TestTrustedProxyForwardedFor(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{Args: []string{"--trusted-proxies", "127.0.0.1/32"}})
	s := createSession(t, srv, aliceToken(), mailQ("info", "alice.test", "remote_address", "203.0.113.5"))
	req, _ := http.NewRequest("POST", srv.URL("webmaild", s.Token+"/login/"), strings.NewReader(url.Values{"session": {s.Session}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Forwarded-For", "198.51.100.1, 203.0.113.5")
	if r := srv.Do(srv.Client(), req); r.StatusCode != 302 {
		t.Fatalf("login via trusted proxy: HTTP %d", r.StatusCode)
	}
	// Without the proxy trusted, the header is ignored.
	srv2 := testserver.Start(t, testserver.Options{})
	s = createSession(t, srv2, aliceToken(), mailQ("info", "alice.test", "remote_address", "203.0.113.5"))
	req, _ = http.NewRequest("POST", srv2.URL("webmaild", s.Token+"/login/"), strings.NewReader(url.Values{"session": {s.Session}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Forwarded-For", "203.0.113.5")
	wantLoginFailure(t, srv2.Do(srv2.Client(), req), "changed_ip")
}

func TestLifetimes(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{Args: []string{"--login-ttl", "1s", "--idle-timeout", "1s", "--max-age", "1h"}})
	s := createSession(t, srv, aliceToken(), mailQ("info", "alice.test"))
	time.Sleep(1100 * time.Millisecond)
	wantLoginFailure(t, login(srv, srv.Client(), "webmaild", s.Token, s.Session), "expired_session")

	s = createSession(t, srv, aliceToken(), mailQ("info", "alice.test"))
	c := srv.Client()
	if r := login(srv, c, "webmaild", s.Token, s.Session); r.StatusCode != 302 {
		t.Fatalf("login HTTP %d", r.StatusCode)
	}
	if r := srv.Do(c, mustReq(t, "GET", srv.URL("webmaild", s.Token+"/"))); r.StatusCode != 200 {
		t.Fatalf("landing HTTP %d", r.StatusCode)
	}
	time.Sleep(1100 * time.Millisecond)
	wantLoginFailure(t, srv.Do(c, mustReq(t, "GET", srv.URL("webmaild", s.Token+"/"))), "expired_session")
}

func TestCookieTokenAndLogout(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{})
	s := createSession(t, srv, aliceToken(), mailQ("info", "alice.test"))
	c := srv.Client()
	if r := login(srv, c, "webmaild", s.Token, s.Session); r.StatusCode != 302 {
		t.Fatalf("login HTTP %d", r.StatusCode)
	}
	other := "/cpsess1111111111"
	if other == s.Token {
		other = "/cpsess2222222222"
	}
	wantLoginFailure(t, srv.Do(c, mustReq(t, "GET", srv.URL("webmaild", other+"/"))), "token_incorrect")
	// The cookie authenticates API calls only with the matching token.
	r := srv.Do(c, mustReq(t, "GET", srv.URL("webmaild", "/execute/Session/create_webmail_session_for_self")))
	if r.StatusCode != 401 {
		t.Fatalf("cookie without token: HTTP %d", r.StatusCode)
	}
	r = srv.Do(c, mustReq(t, "GET", srv.URL("webmaild", other+"/execute/Session/create_webmail_session_for_self")))
	if r.StatusCode != 401 {
		t.Fatalf("cookie with wrong token: HTTP %d", r.StatusCode)
	}
	r = srv.Do(c, mustReq(t, "GET", srv.URL("webmaild", s.Token+"/execute/Session/create_webmail_session_for_self")))
	wantError(t, decodeResult(t, r), "Execution of Session::create_webmail_session_for_self (api version:3) is not permitted inside of webmail")
	// A token alone (no cookie) authenticates nothing.
	if r := srv.Do(srv.Client(), mustReq(t, "GET", srv.URL("webmaild", s.Token+"/execute/Session/create_webmail_session_for_self"))); r.StatusCode != 401 {
		t.Fatalf("token without cookie: HTTP %d", r.StatusCode)
	}

	r = srv.Do(c, mustReq(t, "POST", srv.URL("webmaild", s.Token+"/logout/")))
	if r.StatusCode != 302 || r.Header.Get("Location") != "/" {
		t.Fatalf("logout HTTP %d Location %q", r.StatusCode, r.Header.Get("Location"))
	}
	if sc := r.Header.Get("Set-Cookie"); !strings.Contains(sc, "webmailsession=") || !strings.Contains(sc, "Max-Age=0") {
		t.Fatalf("logout Set-Cookie %q", sc)
	}
	// The session is gone even for a client that kept the cookie.
	if r := srv.Do(c, mustReq(t, "GET", srv.URL("webmaild", s.Token+"/"))); r.StatusCode != 401 {
		t.Fatalf("after logout: HTTP %d", r.StatusCode)
	}
}

func TestPasswordLogin(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{})
	cases := []struct{ service, user, pass, landing string }{
		{"cpaneld", "alice", testserver.AlicePassword, "alice"},
		{"webmaild", "info@alice.test", testserver.InfoPassword, "info@alice.test"},
		{"whostmgrd", "root", testserver.RootPassword, "root"},
	}
	for _, k := range cases {
		t.Run(k.service, func(t *testing.T) {
			c := srv.Client()
			r := srv.PostForm(c, k.service, "/login/?login_only=1", "", url.Values{"user": {k.user}, "pass": {k.pass}})
			if r.StatusCode != 200 {
				t.Fatalf("HTTP %d: %s", r.StatusCode, r.Body)
			}
			v := r.JSON(t)
			tok, _ := v["security_token"].(string)
			if v["status"] != json.Number("1") || !tokenRE.MatchString(tok) || v["redirect"] != tok+"/" {
				t.Fatalf("body %s", r.Body)
			}
			if !strings.Contains(r.Header.Get("Set-Cookie"), "HttpOnly") {
				t.Fatalf("cookie %q", r.Header.Get("Set-Cookie"))
			}
			r = srv.Do(c, mustReq(t, "GET", srv.URL(k.service, tok+"/")))
			if r.StatusCode != 200 || !strings.Contains(string(r.Body), k.landing) {
				t.Fatalf("landing HTTP %d: %s", r.StatusCode, r.Body)
			}
		})
	}
	bad := []struct{ service, user, pass string }{
		{"cpaneld", "alice", "wrong"},
		{"cpaneld", "nobody", "x"},
		{"cpaneld", "info@alice.test", testserver.InfoPassword},
		{"webmaild", "locked@alice.test", "Locked-pass-1"},
		{"cpaneld", "sam", testserver.SamPassword},
	}
	for _, k := range bad {
		r := srv.PostForm(srv.Client(), k.service, "/login/?login_only=1", "", url.Values{"user": {k.user}, "pass": {k.pass}})
		if r.StatusCode != 401 {
			t.Fatalf("%s %s: HTTP %d", k.service, k.user, r.StatusCode)
		}
		assertJSONEq(t, r, map[string]any{"status": json.Number("0"), "message": "invalid_login"})
	}
}

func TestPlainListenerCookieAndWebmailRedirect(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{Plain: true, Args: []string{"--webmail-redirect", "https://roundcube.example/"}})
	s := createSession(t, srv, aliceToken(), mailQ("info", "alice.test"))
	r := login(srv, srv.Client(), "webmaild-plain", s.Token, s.Session)
	if r.StatusCode != 302 {
		t.Fatalf("plain login HTTP %d: %s", r.StatusCode, r.Body)
	}
	sc := r.Header.Get("Set-Cookie")
	if !strings.HasPrefix(sc, "webmailsession=") || strings.Contains(sc, "Secure") || !strings.Contains(sc, "HttpOnly") {
		t.Fatalf("plain-port cookie %q: want HttpOnly without Secure", sc)
	}
	if loc := r.Header.Get("Location"); loc != "https://roundcube.example/" {
		t.Fatalf("Location %q, want the configured Webmail redirect", loc)
	}
	// An explicit relative goto_uri still wins over the configured target.
	s = createSession(t, srv, aliceToken(), mailQ("info", "alice.test"))
	r = login(srv, srv.Client(), "webmaild", s.Token, s.Session, "goto_uri", "/inbox")
	if loc := r.Header.Get("Location"); loc != s.Token+"/inbox" {
		t.Fatalf("Location %q", loc)
	}
}
