package server_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/uapid/uapid/internal/testserver"
)

// The OAuth test setup: Roundcube as a client with two redirect URIs, a
// second client, and Dovecot as a resource server.
const (
	rcID           = "roundcube"
	rcSecret       = "Roundcube-secret-0123456789"
	rcRedirect     = "https://mail.example/index.php/login/oauth"
	rcRedirect2    = "http://127.0.0.1:8080/index.php/login/oauth"
	otherID        = "other"
	otherSecret    = "Other-client-secret-0123"
	otherRedirect  = "https://other.example/cb"
	dovecotName    = "dovecot"
	dovecotSecret  = "Dovecot-secret-0123456789"
	oauthAuthorize = "/oauth2/authorize"
)

// oauthServer starts a server with the clients and the resource server
// above.
func oauthServer(t *testing.T, extra ...string) *testserver.Server {
	t.Helper()
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	args := append([]string{
		"--oauth-clients", rcID + ":" + write("rc", rcSecret) + ":" + rcRedirect + "|" + rcRedirect2 + "," +
			otherID + ":" + write("other", otherSecret) + ":" + otherRedirect,
		"--resource-servers", dovecotName + ":" + write("dovecot", dovecotSecret),
	}, extra...)
	return testserver.Start(t, testserver.Options{Args: args})
}

// webmailLogin logs a mailbox (or with login "", alice herself) in on the
// Webmail port and returns the browser-like client holding the cookie and
// the session's /cpsess… token.
func webmailLogin(t *testing.T, srv *testserver.Server, box, domain string) (*http.Client, string) {
	t.Helper()
	var s created
	if box == "" {
		r := srv.Get("cpaneld", "/execute/Session/create_webmail_session_for_self?remote_address=127.0.0.1", aliceToken())
		v := decodeResult(t, r)
		d, _ := v["data"].(map[string]any)
		if d == nil {
			t.Fatalf("create_webmail_session_for_self: %s", r.Body)
		}
		s = created{Token: d["token"].(string), Session: d["session"].(string)}
	} else {
		s = createSession(t, srv, aliceToken(), mailQ(box, domain, "remote_address", "127.0.0.1"))
	}
	c := srv.Client()
	if r := login(srv, c, "webmaild", s.Token, s.Session); r.StatusCode != http.StatusFound {
		t.Fatalf("login: HTTP %d %s", r.StatusCode, r.Body)
	}
	return c, s.Token
}

// authorize sends an authorization request with the client c and returns
// the response.
func authorize(t *testing.T, srv *testserver.Server, c *http.Client, q url.Values) *testserver.Response {
	t.Helper()
	return srv.Do(c, mustReq(t, "GET", srv.URL("webmaild", oauthAuthorize+"?"+q.Encode())))
}

func authzQuery(kv ...string) url.Values {
	q := url.Values{"response_type": {"code"}, "client_id": {rcID}, "redirect_uri": {rcRedirect}, "state": {"st-123"}}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			q.Del(kv[i])
		} else {
			q.Set(kv[i], kv[i+1])
		}
	}
	return q
}

// redirected checks a 302 to base and returns its query.
func redirected(t *testing.T, r *testserver.Response, base string) url.Values {
	t.Helper()
	if r.StatusCode != http.StatusFound {
		t.Fatalf("HTTP %d, want 302 to %s: %s", r.StatusCode, base, r.Body)
	}
	u, err := url.Parse(r.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	u.RawQuery = ""
	if u.String() != base {
		t.Fatalf("redirected to %s, want %s", u, base)
	}
	return q
}

// codeFor asks for a code with the logged-in client c.
func codeFor(t *testing.T, srv *testserver.Server, c *http.Client, kv ...string) string {
	t.Helper()
	aq := authzQuery(kv...)
	q := redirected(t, authorize(t, srv, c, aq), aq.Get("redirect_uri"))
	if q.Get("state") != "st-123" || q.Get("error") != "" {
		t.Fatalf("authorization answer %v", q)
	}
	code := q.Get("code")
	if !strings.HasPrefix(code, "uapid_ac_") || len(code) != len("uapid_ac_")+43 {
		t.Fatalf("code %q has not the documented form", code)
	}
	return code
}

// tokenReq posts to the token endpoint with Basic client authentication
// (id "" for none).
func tokenReq(t *testing.T, srv *testserver.Server, id, secret string, form url.Values) *testserver.Response {
	t.Helper()
	authz := ""
	if id != "" {
		authz = "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))
	}
	return srv.PostForm(nil, "webmaild", "/oauth2/token", authz, form)
}

func codeForm(code string, kv ...string) url.Values {
	f := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {rcRedirect}}
	for i := 0; i+1 < len(kv); i += 2 {
		f.Set(kv[i], kv[i+1])
	}
	return f
}

// oauthError checks an RFC 6749 §5.2 error answer.
func oauthError(t *testing.T, r *testserver.Response, status int, code string) {
	t.Helper()
	if r.StatusCode != status {
		t.Fatalf("HTTP %d, want %d: %s", r.StatusCode, status, r.Body)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q", cc)
	}
	v := r.JSON(t)
	if v["error"] != code {
		t.Fatalf("error %v, want %s: %s", v["error"], code, r.Body)
	}
	if d, _ := v["error_description"].(string); d == "" {
		t.Errorf("no error_description: %s", r.Body)
	}
	if status == http.StatusUnauthorized && !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Basic ") {
		t.Errorf("401 without a Basic challenge: %q", r.Header.Get("WWW-Authenticate"))
	}
}

type tokens struct {
	Access, Refresh string
	ExpiresIn       int64
}

// exchange trades a code for tokens and checks the answer's shape.
func exchange(t *testing.T, srv *testserver.Server, code string, kv ...string) tokens {
	t.Helper()
	r := tokenReq(t, srv, rcID, rcSecret, codeForm(code, kv...))
	if r.StatusCode != http.StatusOK {
		t.Fatalf("token: HTTP %d %s", r.StatusCode, r.Body)
	}
	if r.Header.Get("Cache-Control") != "no-store" || r.Header.Get("Pragma") != "no-cache" {
		t.Errorf("token answer caching headers %q %q", r.Header.Get("Cache-Control"), r.Header.Get("Pragma"))
	}
	v := r.JSON(t)
	if v["token_type"] != "Bearer" || v["scope"] != "mail" {
		t.Errorf("token answer %s", r.Body)
	}
	n, err := v["expires_in"].(json.Number).Int64()
	if err != nil || n <= 0 {
		t.Fatalf("expires_in %v", v["expires_in"])
	}
	tk := tokens{Access: v["access_token"].(string), Refresh: v["refresh_token"].(string), ExpiresIn: n}
	if !strings.HasPrefix(tk.Access, "uapid_at_") || !strings.HasPrefix(tk.Refresh, "uapid_rt_") {
		t.Fatalf("tokens %s", r.Body)
	}
	return tk
}

// introspect asks as Dovecot; authz "" means the right credentials.
func introspect(t *testing.T, srv *testserver.Server, token, authz string) *testserver.Response {
	t.Helper()
	if authz == "" {
		authz = testserver.Basic(dovecotName, dovecotSecret)
	}
	return srv.PostForm(nil, "webmaild", "/oauth2/introspect", authz, url.Values{"token": {token}})
}

// active returns the introspection answer, checking its form.
func active(t *testing.T, srv *testserver.Server, token string) map[string]any {
	t.Helper()
	r := introspect(t, srv, token, "")
	if r.StatusCode != http.StatusOK {
		t.Fatalf("introspect: HTTP %d %s", r.StatusCode, r.Body)
	}
	v := r.JSON(t)
	if v["active"] == false && len(v) != 1 {
		t.Errorf("an inactive answer says more: %s", r.Body)
	}
	return v
}

func wantActive(t *testing.T, srv *testserver.Server, token, user string) {
	t.Helper()
	v := active(t, srv, token)
	if v["active"] != true || v["username"] != user || v["client_id"] != rcID || v["token_type"] != "Bearer" {
		t.Fatalf("introspection %v, want active for %s", v, user)
	}
	exp, _ := v["exp"].(json.Number).Int64()
	if now := time.Now().Unix(); exp <= now || exp > now+16*60 {
		t.Errorf("exp %d is not within the idle timeout from now (%d)", exp, now)
	}
}

func wantInactive(t *testing.T, srv *testserver.Server, token, why string) {
	t.Helper()
	if v := active(t, srv, token); v["active"] != false {
		t.Fatalf("%s: introspection %v, want {\"active\":false}", why, v)
	}
}

// TestOAuthFlow is the whole authorization-code flow as Roundcube and
// Dovecot use it: authorize with the Webmail session's cookie, exchange
// the code (client_secret_basic and client_secret_post), user info,
// introspection, refresh, and revocation, which ends the session.
func TestOAuthFlow(t *testing.T) {
	srv := oauthServer(t)
	c, _ := webmailLogin(t, srv, "info", "alice.test")

	// Metadata (RFC 8414).
	r := srv.Get("webmaild", "/.well-known/oauth-authorization-server", "")
	md := r.JSON(t)
	issuer := "https://localhost:" + strings.Split(srv.Addrs["webmaild"], ":")[1]
	if md["issuer"] != issuer || md["token_endpoint"] != issuer+"/oauth2/token" || md["introspection_endpoint"] != issuer+"/oauth2/introspect" ||
		md["authorization_endpoint"] != issuer+oauthAuthorize || md["revocation_endpoint"] != issuer+"/oauth2/revoke" ||
		md["userinfo_endpoint"] != issuer+"/oauth2/userinfo" {
		t.Errorf("metadata %s", r.Body)
	}

	code := codeFor(t, srv, c)
	tk := exchange(t, srv, code)
	if tk.ExpiresIn > 15*60 || tk.ExpiresIn < 14*60 {
		t.Errorf("expires_in %d, want the idle timeout (15 min)", tk.ExpiresIn)
	}
	wantActive(t, srv, tk.Access, "info@alice.test")
	// A refresh token is no credential for a resource server.
	wantInactive(t, srv, tk.Refresh, "refresh token")

	// User info with the access token.
	req := mustReq(t, "GET", srv.URL("webmaild", "/oauth2/userinfo"))
	req.Header.Set("Authorization", "Bearer "+tk.Access)
	r = srv.Do(nil, req)
	assertJSONEq(t, r, map[string]any{"sub": "info@alice.test", "email": "info@alice.test", "preferred_username": "info@alice.test"})
	req = mustReq(t, "GET", srv.URL("webmaild", "/oauth2/userinfo"))
	req.Header.Set("Authorization", "Bearer "+tk.Refresh)
	r = srv.Do(nil, req)
	if r.StatusCode != http.StatusUnauthorized || !strings.Contains(r.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Errorf("userinfo with a refresh token: HTTP %d %q", r.StatusCode, r.Header.Get("WWW-Authenticate"))
	}
	r = srv.Do(nil, mustReq(t, "GET", srv.URL("webmaild", "/oauth2/userinfo")))
	if r.StatusCode != http.StatusUnauthorized || r.Header.Get("WWW-Authenticate") != `Bearer realm="uapid"` {
		t.Errorf("userinfo without a token: HTTP %d %q", r.StatusCode, r.Header.Get("WWW-Authenticate"))
	}

	// client_secret_post, and a second redirect URI of the client.
	code2 := codeFor(t, srv, c, "redirect_uri", rcRedirect2)
	r = srv.PostForm(nil, "webmaild", "/oauth2/token", "", url.Values{"grant_type": {"authorization_code"}, "code": {code2},
		"redirect_uri": {rcRedirect2}, "client_id": {rcID}, "client_secret": {rcSecret}})
	if r.StatusCode != http.StatusOK {
		t.Fatalf("client_secret_post: HTTP %d %s", r.StatusCode, r.Body)
	}
	tk2 := r.JSON(t)["access_token"].(string)
	wantActive(t, srv, tk2, "info@alice.test")

	// Refresh: a new access token for the same session.
	r = tokenReq(t, srv, rcID, rcSecret, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tk.Refresh}})
	if r.StatusCode != http.StatusOK {
		t.Fatalf("refresh: HTTP %d %s", r.StatusCode, r.Body)
	}
	v := r.JSON(t)
	tk3, _ := v["access_token"].(string)
	if tk3 == "" || tk3 == tk.Access || v["refresh_token"] != nil {
		t.Fatalf("refresh answer %s", r.Body)
	}
	wantActive(t, srv, tk3, "info@alice.test")
	// Another client cannot use it.
	oauthError(t, tokenReq(t, srv, otherID, otherSecret, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tk.Refresh}}),
		http.StatusBadRequest, "invalid_grant")

	// Revocation (RFC 7009) by another client is refused ...
	r = srv.PostForm(nil, "webmaild", "/oauth2/revoke", testserver.Basic(otherID, otherSecret), url.Values{"token": {tk.Access}})
	oauthError(t, r, http.StatusBadRequest, "unauthorized_client")
	wantActive(t, srv, tk.Access, "info@alice.test")
	// ... an unknown token is no error ...
	r = srv.PostForm(nil, "webmaild", "/oauth2/revoke", testserver.Basic(rcID, rcSecret), url.Values{"token": {"uapid_at_unknown"}})
	if r.StatusCode != http.StatusOK {
		t.Fatalf("revoke an unknown token: HTTP %d %s", r.StatusCode, r.Body)
	}
	// ... a wrong client secret is refused ...
	r = srv.PostForm(nil, "webmaild", "/oauth2/revoke", testserver.Basic(rcID, "wrong-secret-0123456789"), url.Values{"token": {tk.Access}})
	oauthError(t, r, http.StatusUnauthorized, "invalid_client")
	// ... and the client's own revocation ends the uapid session: every
	// token of it is inactive, the cookie no longer authorizes.
	r = srv.PostForm(nil, "webmaild", "/oauth2/revoke", "", url.Values{"token": {tk2}, "token_type_hint": {"access_token"},
		"client_id": {rcID}, "client_secret": {rcSecret}})
	if r.StatusCode != http.StatusOK {
		t.Fatalf("revoke: HTTP %d %s", r.StatusCode, r.Body)
	}
	for _, tok := range []string{tk.Access, tk2, tk3} {
		wantInactive(t, srv, tok, "after revocation")
	}
	oauthError(t, tokenReq(t, srv, rcID, rcSecret, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tk.Refresh}}),
		http.StatusBadRequest, "invalid_grant")
	r = authorize(t, srv, c, authzQuery())
	if r.StatusCode != http.StatusUnauthorized || strings.Contains(r.Header.Get("Location"), "code=") {
		t.Fatalf("authorize after revocation: HTTP %d Location %q", r.StatusCode, r.Header.Get("Location"))
	}
}

// TestOAuthAuthorizeRules: what the authorization endpoint refuses, and
// how (RFC 6749 §4.1.2.1: a bad client or redirect URI is shown to the
// user, never redirected; other errors go back to the client with state).
func TestOAuthAuthorizeRules(t *testing.T) {
	srv := oauthServer(t)
	c, _ := webmailLogin(t, srv, "info", "alice.test")
	page := func(what string, r *testserver.Response, status int, code string) {
		t.Helper()
		if r.StatusCode != status || r.Header.Get("Location") != "" {
			t.Fatalf("%s: HTTP %d Location %q, want %d and no redirect", what, r.StatusCode, r.Header.Get("Location"), status)
		}
		if !strings.Contains(string(r.Body), `<code id="code">`+code+`</code>`) {
			t.Fatalf("%s: the page does not name %s: %s", what, code, r.Body)
		}
	}
	page("unknown client", authorize(t, srv, c, authzQuery("client_id", "nobody")), 400, "invalid_client")
	page("no client", authorize(t, srv, c, authzQuery("client_id", "")), 400, "invalid_request")
	page("wrong redirect URI", authorize(t, srv, c, authzQuery("redirect_uri", "https://evil.example/cb")), 400, "invalid_request")
	page("redirect URI with a different path", authorize(t, srv, c, authzQuery("redirect_uri", rcRedirect+"/x")), 400, "invalid_request")
	page("redirect URI of another client", authorize(t, srv, c, authzQuery("redirect_uri", otherRedirect)), 400, "invalid_request")
	page("no redirect URI, several registered", authorize(t, srv, c, authzQuery("redirect_uri", "")), 400, "invalid_request")
	r := srv.Do(c, mustReq(t, "GET", srv.URL("webmaild", oauthAuthorize+"?client_id=roundcube&client_id=other&response_type=code")))
	page("repeated parameter", r, 400, "invalid_request")

	// Errors the client hears about, with its state.
	for _, tc := range []struct {
		name string
		kv   []string
		code string
	}{
		{"no response_type", []string{"response_type", ""}, "invalid_request"},
		{"token response_type", []string{"response_type", "token"}, "unsupported_response_type"},
		{"malformed scope", []string{"scope", "a\"b"}, "invalid_scope"},
		{"plain PKCE", []string{"code_challenge", strings.Repeat("a", 43), "code_challenge_method", "plain"}, "invalid_request"},
		{"PKCE without method", []string{"code_challenge", strings.Repeat("a", 43)}, "invalid_request"},
		{"short challenge", []string{"code_challenge", "abc", "code_challenge_method", "S256"}, "invalid_request"},
		{"method without challenge", []string{"code_challenge_method", "S256"}, "invalid_request"},
	} {
		q := redirected(t, authorize(t, srv, c, authzQuery(tc.kv...)), rcRedirect)
		if q.Get("error") != tc.code || q.Get("state") != "st-123" || q.Get("code") != "" || q.Get("error_description") == "" {
			t.Errorf("%s: redirected with %v, want error %s and the state", tc.name, q, tc.code)
		}
	}

	// The only redirect URI of a client may be left out.
	r = authorize(t, srv, c, url.Values{"response_type": {"code"}, "client_id": {otherID}})
	q := redirected(t, r, otherRedirect)
	if q.Get("code") == "" || q.Has("state") {
		t.Errorf("authorization without redirect_uri and state: %v", q)
	}
	// Scopes are accepted (and the one scope "mail" granted).
	codeFor(t, srv, c, "scope", "openid email profile")

	// Without a Webmail session: a login page (401), never a code; after
	// a password login there, back to the authorization, which answers
	// with a code.
	anon := srv.Client()
	r = authorize(t, srv, anon, authzQuery())
	page("no session", r, 401, "login_required")
	m := regexp.MustCompile(`name="goto_uri" value="([^"]*)"`).FindSubmatch(r.Body)
	if m == nil {
		t.Fatalf("the login page has no goto_uri: %s", r.Body)
	}
	gotoURI := html.UnescapeString(string(m[1]))
	r = srv.PostForm(anon, "webmaild", "/login/", "", url.Values{"user": {"info@alice.test"}, "pass": {testserver.InfoPassword}, "goto_uri": {gotoURI}})
	if r.StatusCode != http.StatusFound || r.Header.Get("Location") != gotoURI {
		t.Fatalf("password login with goto_uri: HTTP %d Location %q, want %q", r.StatusCode, r.Header.Get("Location"), gotoURI)
	}
	q = redirected(t, srv.Do(anon, mustReq(t, "GET", srv.URL("webmaild", gotoURI))), rcRedirect)
	if q.Get("code") == "" || q.Get("state") != "st-123" {
		t.Fatalf("authorization after the password login: %v", q)
	}
	// A cookie of a cPanel session or garbage is no Webmail session.
	bad := srv.Client()
	u, _ := url.Parse(srv.URL("webmaild", "/"))
	bad.Jar.SetCookies(u, []*http.Cookie{{Name: "webmailsession", Value: "info%40alice.test%3Aabc%2C0123"}})
	page("bad cookie", authorize(t, srv, bad, authzQuery()), 401, "login_required")
	// The authorization endpoint is only on the Webmail ports.
	if r := srv.Get("cpaneld", oauthAuthorize+"?"+authzQuery().Encode(), ""); r.StatusCode != http.StatusNotFound {
		t.Errorf("authorize on the cPanel port: HTTP %d", r.StatusCode)
	}
}

// TestOAuthTokenRules: every refusal of the token endpoint, with RFC
// 6749 §5.2's error codes.
func TestOAuthTokenRules(t *testing.T) {
	srv := oauthServer(t)
	c, tok := webmailLogin(t, srv, "info", "alice.test")

	// Client authentication.
	code := codeFor(t, srv, c)
	oauthError(t, tokenReq(t, srv, rcID, "wrong-secret-0123456789", codeForm(code)), http.StatusUnauthorized, "invalid_client")
	oauthError(t, tokenReq(t, srv, "nobody", rcSecret, codeForm(code)), http.StatusUnauthorized, "invalid_client")
	oauthError(t, tokenReq(t, srv, "", "", codeForm(code)), http.StatusUnauthorized, "invalid_client")
	oauthError(t, srv.PostForm(nil, "webmaild", "/oauth2/token", "", codeForm(code, "client_id", rcID, "client_secret", "wrong")),
		http.StatusUnauthorized, "invalid_client")
	oauthError(t, tokenReq(t, srv, rcID, rcSecret, codeForm(code, "client_secret", rcSecret)), http.StatusBadRequest, "invalid_request")
	oauthError(t, srv.PostForm(nil, "webmaild", "/oauth2/token", "Bearer x", codeForm(code)), http.StatusUnauthorized, "invalid_client")
	// None of that spent the code.
	exchange(t, srv, code)

	// Request errors.
	code = codeFor(t, srv, c)
	oauthError(t, tokenReq(t, srv, rcID, rcSecret, url.Values{"code": {code}}), http.StatusBadRequest, "invalid_request")
	oauthError(t, tokenReq(t, srv, rcID, rcSecret, codeForm(code, "grant_type", "password")), http.StatusBadRequest, "unsupported_grant_type")
	oauthError(t, tokenReq(t, srv, rcID, rcSecret, url.Values{"grant_type": {"authorization_code"}}), http.StatusBadRequest, "invalid_request")
	req, _ := http.NewRequest("POST", srv.URL("webmaild", "/oauth2/token"), strings.NewReader(codeForm(code).Encode()+"&code=x"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", testserver.Basic(rcID, rcSecret))
	oauthError(t, srv.Do(nil, req), http.StatusBadRequest, "invalid_request")
	req, _ = http.NewRequest("POST", srv.URL("webmaild", "/oauth2/token"), strings.NewReader(`{"grant_type":"authorization_code"}`))
	req.Header.Set("Content-Type", "application/json")
	oauthError(t, srv.Do(nil, req), http.StatusBadRequest, "invalid_request")
	r := srv.Get("webmaild", "/oauth2/token?"+codeForm(code).Encode(), testserver.Basic(rcID, rcSecret))
	oauthError(t, r, http.StatusMethodNotAllowed, "invalid_request")
	if r.Header.Get("Allow") != "POST" {
		t.Errorf("Allow %q", r.Header.Get("Allow"))
	}

	// Grant errors: every one spends the code.
	oauthError(t, tokenReq(t, srv, rcID, rcSecret, codeForm("uapid_ac_"+strings.Repeat("A", 43))), http.StatusBadRequest, "invalid_grant")
	oauthError(t, tokenReq(t, srv, rcID, rcSecret, codeForm(code, "redirect_uri", rcRedirect2)), http.StatusBadRequest, "invalid_grant")
	oauthError(t, tokenReq(t, srv, rcID, rcSecret, codeForm(code)), http.StatusBadRequest, "invalid_grant") // spent
	code = codeFor(t, srv, c)
	oauthError(t, tokenReq(t, srv, otherID, otherSecret, codeForm(code, "redirect_uri", otherRedirect)), http.StatusBadRequest, "invalid_grant")
	oauthError(t, tokenReq(t, srv, rcID, rcSecret, codeForm(code)), http.StatusBadRequest, "invalid_grant")
	code = codeFor(t, srv, c)
	oauthError(t, tokenReq(t, srv, rcID, rcSecret, url.Values{"grant_type": {"authorization_code"}, "code": {code}}), http.StatusBadRequest, "invalid_grant")

	// A reused code fails and revokes what its first use issued (RFC 6749
	// §4.1.2), refresh token included; the session itself lives on.
	code = codeFor(t, srv, c)
	first := exchange(t, srv, code)
	wantActive(t, srv, first.Access, "info@alice.test")
	oauthError(t, tokenReq(t, srv, rcID, rcSecret, codeForm(code)), http.StatusBadRequest, "invalid_grant")
	wantInactive(t, srv, first.Access, "access token of a replayed code")
	oauthError(t, tokenReq(t, srv, rcID, rcSecret, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {first.Refresh}}),
		http.StatusBadRequest, "invalid_grant")
	other := exchange(t, srv, codeFor(t, srv, c))
	wantActive(t, srv, other.Access, "info@alice.test")

	// PKCE (S256).
	verifier := "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk" + "more"
	sum := sha256.Sum256([]byte(verifier))
	challenge := base64.RawURLEncoding.EncodeToString(sum[:])
	code = codeFor(t, srv, c, "code_challenge", challenge, "code_challenge_method", "S256")
	oauthError(t, tokenReq(t, srv, rcID, rcSecret, codeForm(code)), http.StatusBadRequest, "invalid_grant")
	code = codeFor(t, srv, c, "code_challenge", challenge, "code_challenge_method", "S256")
	oauthError(t, tokenReq(t, srv, rcID, rcSecret, codeForm(code, "code_verifier", strings.Repeat("x", 43))), http.StatusBadRequest, "invalid_grant")
	code = codeFor(t, srv, c, "code_challenge", challenge, "code_challenge_method", "S256")
	oauthError(t, tokenReq(t, srv, rcID, rcSecret, codeForm(code, "code_verifier", "short")), http.StatusBadRequest, "invalid_grant")
	code = codeFor(t, srv, c, "code_challenge", challenge, "code_challenge_method", "S256")
	exchange(t, srv, code, "code_verifier", verifier)
	// A verifier for a code without challenge is a downgrade attempt.
	code = codeFor(t, srv, c)
	oauthError(t, tokenReq(t, srv, rcID, rcSecret, codeForm(code, "code_verifier", verifier)), http.StatusBadRequest, "invalid_grant")

	// A code of an ended session: the session's end removes its codes.
	code = codeFor(t, srv, c)
	logoutWebmail(t, srv, c, tok)
	oauthError(t, tokenReq(t, srv, rcID, rcSecret, codeForm(code)), http.StatusBadRequest, "invalid_grant")
	wantInactive(t, srv, other.Access, "token of a logged-out session")
}

// logoutWebmail logs the client's Webmail session (token tok) out.
func logoutWebmail(t *testing.T, srv *testserver.Server, c *http.Client, tok string) {
	t.Helper()
	if r := srv.Do(c, mustReq(t, "POST", srv.URL("webmaild", tok+"/logout/"))); r.StatusCode != http.StatusFound {
		t.Fatalf("logout: HTTP %d %s", r.StatusCode, r.Body)
	}
}

// TestOAuthSessionEnds: a token is active only while its session lives
// and its user may log in; suspension ends it at once.
func TestOAuthSessionEnds(t *testing.T) {
	srv := oauthServer(t, "--idle-timeout", "3s", "--max-age", "1h")
	c, _ := webmailLogin(t, srv, "info", "alice.test")
	tk := exchange(t, srv, codeFor(t, srv, c))
	if tk.ExpiresIn > 3 {
		t.Errorf("expires_in %d outlives the session's idle limit (3 s)", tk.ExpiresIn)
	}
	// Introspections count as uses of the session: the session outlives
	// its idle time while Dovecot keeps asking.
	for range 4 {
		time.Sleep(time.Second)
		r := srv.PostForm(nil, "webmaild", "/oauth2/introspect", testserver.Basic(dovecotName, dovecotSecret), url.Values{"token": {tk.Access}})
		if v := r.JSON(t); v["active"] != true {
			// The access token itself is bound to 3 s; a refresh
			// gets a new one for the living session.
			rr := tokenReq(t, srv, rcID, rcSecret, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tk.Refresh}})
			if rr.StatusCode != http.StatusOK {
				t.Fatalf("the session ended although introspections used it: %s / %s", r.Body, rr.Body)
			}
			tk.Access = rr.JSON(t)["access_token"].(string)
			wantActive(t, srv, tk.Access, "info@alice.test")
		}
	}
	// Idle: the session ends, and its tokens with it.
	time.Sleep(3200 * time.Millisecond)
	wantInactive(t, srv, tk.Access, "idle session")
	oauthError(t, tokenReq(t, srv, rcID, rcSecret, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tk.Refresh}}),
		http.StatusBadRequest, "invalid_grant")

	// Suspending the mailbox's login makes its tokens inactive at once.
	srv2 := oauthServer(t)
	c, _ = webmailLogin(t, srv2, "info", "alice.test")
	tk = exchange(t, srv2, codeFor(t, srv2, c))
	wantActive(t, srv2, tk.Access, "info@alice.test")
	r := srv2.Get("cpaneld", "/execute/Email/suspend_login?email=info@alice.test", aliceToken())
	if v := decodeResult(t, r); v["status"] != json.Number("1") {
		t.Fatalf("suspend_login: %s", r.Body)
	}
	wantInactive(t, srv2, tk.Access, "suspended mailbox login")
	r = srv2.Get("cpaneld", "/execute/Email/unsuspend_login?email=info@alice.test", aliceToken())
	if v := decodeResult(t, r); v["status"] != json.Number("1") {
		t.Fatalf("unsuspend_login: %s", r.Body)
	}
	wantInactive(t, srv2, tk.Access, "token of a session the suspension ended")

	// A token of another mailbox introspects as that mailbox only; an
	// account's own Webmail session gets a token for its default mailbox.
	c, _ = webmailLogin(t, srv2, "sales", "shop.alice.test")
	tk = exchange(t, srv2, codeFor(t, srv2, c))
	wantActive(t, srv2, tk.Access, "sales@shop.alice.test")
	c, _ = webmailLogin(t, srv2, "", "")
	tk = exchange(t, srv2, codeFor(t, srv2, c))
	wantActive(t, srv2, tk.Access, "alice")
	req := mustReq(t, "GET", srv2.URL("webmaild", "/oauth2/userinfo"))
	req.Header.Set("Authorization", "Bearer "+tk.Access)
	assertJSONEq(t, srv2.Do(nil, req), map[string]any{"sub": "alice", "email": "alice@alice.test", "preferred_username": "alice"})
	// Suspending the account ends its sessions: the token is inactive.
	if r := srv2.Get("whostmgrd", "/json-api/suspendacct?api.version=1&user=alice&reason=test", testserver.WHMToken("root", testserver.RootToken)); r.StatusCode != 200 {
		t.Fatalf("suspendacct: HTTP %d", r.StatusCode)
	}
	wantInactive(t, srv2, tk.Access, "suspended account")
}

// TestOAuthIntrospectionRules: only configured resource servers may ask,
// with RFC 7662 / RFC 6749 §5.2 errors.
func TestOAuthIntrospectionRules(t *testing.T) {
	srv := oauthServer(t)
	c, _ := webmailLogin(t, srv, "info", "alice.test")
	tk := exchange(t, srv, codeFor(t, srv, c))
	for name, authz := range map[string]string{
		"no credentials":     "none",
		"wrong secret":       testserver.Basic(dovecotName, "wrong-secret-0123456789"),
		"unknown server":     testserver.Basic("postfix", dovecotSecret),
		"a client's secret":  testserver.Basic(rcID, rcSecret),
		"a bearer token":     "Bearer " + tk.Access,
		"a mailbox password": testserver.Basic("info@alice.test", testserver.InfoPassword),
	} {
		if authz == "none" {
			authz = ""
			r := srv.PostForm(nil, "webmaild", "/oauth2/introspect", "", url.Values{"token": {tk.Access}})
			oauthError(t, r, http.StatusUnauthorized, "invalid_client")
			continue
		}
		r := introspect(t, srv, tk.Access, authz)
		oauthError(t, r, http.StatusUnauthorized, "invalid_client")
		if strings.Contains(string(r.Body), "info@alice.test") {
			t.Errorf("%s: the refusal names the user", name)
		}
	}
	oauthError(t, srv.PostForm(nil, "webmaild", "/oauth2/introspect", testserver.Basic(dovecotName, dovecotSecret), url.Values{}),
		http.StatusBadRequest, "invalid_request")
	wantInactive(t, srv, "uapid_at_"+strings.Repeat("B", 43), "unknown token")
	wantActive(t, srv, tk.Access, "info@alice.test")
}

// TestOAuthMetrics: the flow's events and routes are counted, with
// bounded labels.
func TestOAuthMetrics(t *testing.T) {
	srv := oauthServer(t, "--metrics-addr", "127.0.0.1:0")
	lines := strings.Split(strings.TrimSpace(srv.Stdout.String()), "\n")
	addr := strings.TrimPrefix(lines[3], "listening service=metrics tls=false addr=")
	c, _ := webmailLogin(t, srv, "info", "alice.test")
	exchange(t, srv, codeFor(t, srv, c))
	tokenReq(t, srv, rcID, rcSecret, codeForm("uapid_ac_nothing"))
	srv.Get("webmaild", "/oauth2/"+strings.Repeat("z", 40), "")
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, w := range []string{
		`uapid_webmail_events_total{event="oauth.code"} 1`,
		`uapid_webmail_events_total{event="oauth.token"} 1`,
		`uapid_webmail_events_total{event="oauth.token_failed"} 1`,
		`uapid_http_requests_total{code="302",function="authorize",module="oauth",service="webmaild"} 1`,
		`uapid_http_requests_total{code="200",function="token",module="oauth",service="webmaild"} 1`,
		`uapid_http_requests_total{code="400",function="token",module="oauth",service="webmaild"} 1`,
		`uapid_http_requests_total{code="404",function="unknown",module="oauth",service="webmaild"} 1`,
	} {
		if !strings.Contains(string(body), w) {
			t.Errorf("metrics lack %s", w)
		}
	}
	if strings.Contains(string(body), "zzzz") {
		t.Error("a caller-supplied path became a label value")
	}
}

// TestMailAuth: the mail server's password check and user lookup, for
// resource servers only; password failures count against the client
// address the mail server reports and the user.
func TestMailAuth(t *testing.T) {
	srv := oauthServer(t, "--bruteforce-ip-max", "2", "--bruteforce-user-max", "100")
	dc := testserver.Basic(dovecotName, dovecotSecret)
	pw := func(authz, user, pass, client string) (int, map[string]any) {
		t.Helper()
		r := srv.PostForm(nil, "webmaild", "/mailauth/v1/password", authz,
			url.Values{"user": {user}, "password": {pass}, "client": {client}, "protocol": {"imap"}})
		if ct := r.Header.Get("Content-Type"); ct != "application/json" {
			t.Fatalf("Content-Type %q: %s", ct, r.Body)
		}
		return r.StatusCode, r.JSON(t)
	}
	for _, tc := range []struct {
		authz, user, pass string
		status            int
		result, canonical string
	}{
		{dc, "info@alice.test", testserver.InfoPassword, 200, "ok", "info@alice.test"},
		{dc, "INFO@Alice.Test", testserver.InfoPassword, 200, "ok", "info@alice.test"},
		{dc, "alice", testserver.AlicePassword, 200, "ok", "alice"},
		{dc, "locked@alice.test", "Locked-pass-1", 403, "denied", ""},
		{dc, "info@sam.test", "Sam-mail-1", 403, "denied", ""},
		{dc, "root", testserver.RootPassword, 403, "denied", ""},
		{dc, "", testserver.InfoPassword, 400, "error", ""},
	} {
		st, v := pw(tc.authz, tc.user, tc.pass, "198.51.100.1")
		if st != tc.status || v["result"] != tc.result || (tc.canonical != "" && v["user"] != tc.canonical) {
			t.Errorf("password %q for %q: HTTP %d %v, want %d %s %s", tc.pass, tc.user, st, v, tc.status, tc.result, tc.canonical)
		}
	}
	// Three failures from one client address (limit 2): blocked there,
	// not elsewhere.
	for range 3 {
		if st, _ := pw(dc, "sales@shop.alice.test", "Wrong-pass-9", "198.51.100.2"); st != 403 {
			t.Fatalf("a wrong password: HTTP %d", st)
		}
	}
	if st, _ := pw(dc, "info@alice.test", testserver.InfoPassword, "198.51.100.2"); st != 403 {
		t.Errorf("the right password from a blocked client address: HTTP %d, want 403", st)
	}
	if st, _ := pw(dc, "info@alice.test", testserver.InfoPassword, "198.51.100.3"); st != 200 {
		t.Errorf("the right password from another address: HTTP %d, want 200", st)
	}
	// User lookups.
	for user, want := range map[string]int{"info@alice.test": 200, "Info@Alice.test": 200, "locked@alice.test": 200, "alice": 200,
		"nobody@alice.test": 404, "root": 404, "bob": 200, "x\x01": 404} {
		r := srv.PostForm(nil, "webmaild", "/mailauth/v1/user", dc, url.Values{"user": {user}})
		if r.StatusCode != want {
			t.Errorf("user %q: HTTP %d %s, want %d", user, r.StatusCode, r.Body, want)
		}
	}
	// Only resource servers may ask (last: these failures count against
	// this test's address).
	for _, authz := range []string{testserver.Basic(dovecotName, "wrong-secret-0123456789"), testserver.Basic(rcID, rcSecret), ""} {
		if st, v := pw(authz, "info@alice.test", testserver.InfoPassword, "198.51.100.1"); st != 401 || v["result"] != "error" {
			t.Errorf("password check as %q: HTTP %d %v", authz, st, v)
		}
	}
	if r := srv.PostForm(nil, "webmaild", "/mailauth/v1/user", "", url.Values{"user": {"info@alice.test"}}); r.StatusCode != 401 {
		t.Errorf("user lookup without credentials: HTTP %d", r.StatusCode)
	}
}
