package server

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/uapid/uapid/internal/session"
	"github.com/uapid/uapid/internal/uapi"
)

// FuzzServeOAuth sends fuzzed requests to the OAuth and mail-server
// endpoints of the Webmail handler: fuzzed route, method, query string,
// Content-Type and body, with no, a client's, a resource server's, a
// bearer or a fuzzed Authorization header, with or without the cookie of a
// logged-in Webmail session. Whatever the input: no status but 200, 302,
// 400, 401, 404, 405 or 413 (and a mail login's 403), never 5xx; the server logs no error; a
// redirect of the authorization endpoint goes only to the registered
// redirect URI; every other answer is JSON (an RFC 6749 error object for
// statuses from 400), except the authorization endpoint's pages (HTML), a
// revocation's empty 200 and a user-info request without credentials.
func FuzzServeOAuth(f *testing.F) {
	const redirect = "https://mail.example/index.php/login/oauth"
	dir := f.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text+"\n"), 0o600); err != nil {
			f.Fatal(err)
		}
		return p
	}
	logs := &errorLog{}
	s := newFuzzServer(f, logs, "--oauth-clients", "roundcube:"+write("rc", "Roundcube-secret-0123456789")+":"+redirect,
		"--resource-servers", "dovecot:"+write("dc", "Dovecot-secret-0123456789"))
	h := s.handler(uapi.ServiceWebmail, true)
	r, _, err := s.app.Sessions.Create(f.Context(), session.NewSession{User: "info@alice.test", Account: "alice",
		Service: uapi.ServiceWebmail, Tag: session.TagMailUser, Creator: "alice", Method: "fuzz"})
	if err != nil {
		f.Fatal(err)
	}
	_, cookie, err := s.app.Sessions.Redeem(f.Context(), r, s.app.Sessions.Clock())
	if err != nil {
		f.Fatal(err)
	}
	logs.take() // start-up
	routes := []string{"/oauth2/authorize", "/oauth2/token", "/oauth2/userinfo", "/oauth2/introspect", "/oauth2/revoke",
		"/.well-known/oauth-authorization-server", "/mailauth/v1/password", "/mailauth/v1/user"}
	form := "application/x-www-form-urlencoded"

	// sel: bits 0-2 route (7: the fuzzed path below /oauth2/), bits 3-4
	// method, bit 5 the session cookie.
	f.Add(byte(0x20), "", "response_type=code&client_id=roundcube&redirect_uri="+url.QueryEscape(redirect)+"&state=x", "", []byte(nil), byte(0), "")
	f.Add(byte(0x20), "", "response_type=code&client_id=roundcube&code_challenge=abc&code_challenge_method=S256", "", []byte(nil), byte(0), "")
	f.Add(byte(0x08|0x20), "", "", form, []byte("response_type=token&client_id=roundcube&state=%zz"), byte(0), "")
	f.Add(byte(0), "", "response_type=code&client_id=roundcube&client_id=x", "", []byte(nil), byte(0), "")
	f.Add(byte(0x09), "", "", form, []byte("grant_type=authorization_code&code=uapid_ac_x&redirect_uri=x"), byte(1), "")
	f.Add(byte(0x09), "", "", form, []byte("grant_type=refresh_token&refresh_token=x&client_id=roundcube&client_secret=Roundcube-secret-0123456789"), byte(0), "")
	f.Add(byte(0x09), "", "", "application/json", []byte(`{"grant_type":"x"}`), byte(1), "")
	f.Add(byte(0x09), "", "", form, []byte("grant_type=authorization_code"), byte(4), "Basic "+base64.StdEncoding.EncodeToString([]byte("a%zz:b")))
	f.Add(byte(0x02), "", "", "", []byte(nil), byte(3), "")
	f.Add(byte(0x0a), "", "", form, []byte("access_token=uapid_at_x"), byte(0), "")
	f.Add(byte(0x0b), "", "", form, []byte("token=uapid_at_x&token_type_hint=refresh_token"), byte(2), "")
	f.Add(byte(0x0b), "", "", form, []byte(""), byte(2), "")
	f.Add(byte(0x0c), "", "", form, []byte("token=uapid_rt_x"), byte(1), "")
	f.Add(byte(0x05), "", "", "", []byte(nil), byte(0), "")
	f.Add(byte(0x0e), "", "", form, []byte("user=info%40alice.test&password=Info-pass-1&client=198.51.100.1&protocol=imap"), byte(2), "")
	f.Add(byte(0x0f), "", "", form, []byte("user=nobody%40alice.test"), byte(2), "")
	f.Add(byte(0x0f), "", "", form, []byte("user="), byte(4), "Basic !!!")
	f.Add(byte(0x07), "nothing", "", "", []byte(nil), byte(0), "")
	f.Add(byte(0x18), "", "", form, bytes.Repeat([]byte("a"), 5000), byte(0), "")

	f.Fuzz(func(t *testing.T, sel byte, extra, query, ctype string, body []byte, authSel byte, rawAuth string) {
		route := "/oauth2/" + extra
		if i := int(sel & 7); i < len(routes) && i != 7 {
			route = routes[i]
		}
		method := []string{"GET", "POST", "PUT", "HEAD"}[(sel>>3)&3]
		target := route
		if query != "" {
			target += "?" + query
		}
		var raw bytes.Buffer
		fmt.Fprintf(&raw, "%s %s HTTP/1.1\r\nHost: localhost\r\n", method, target)
		var authz string
		switch authSel % 5 {
		case 1:
			authz = "Basic " + base64.StdEncoding.EncodeToString([]byte("roundcube:Roundcube-secret-0123456789"))
		case 2:
			authz = "Basic " + base64.StdEncoding.EncodeToString([]byte("dovecot:Dovecot-secret-0123456789"))
		case 3:
			authz = "Bearer uapid_at_" + strings.Repeat("A", 43)
		case 4:
			authz = rawAuth
		}
		if authz != "" {
			fmt.Fprintf(&raw, "Authorization: %s\r\n", authz)
		}
		if sel&0x20 != 0 {
			fmt.Fprintf(&raw, "Cookie: webmailsession=%s\r\n", url.QueryEscape(cookie))
		}
		if ctype != "" {
			fmt.Fprintf(&raw, "Content-Type: %s\r\n", ctype)
		}
		fmt.Fprintf(&raw, "Content-Length: %d\r\n\r\n", len(body))
		raw.Write(body)
		req, err := http.ReadRequest(bufio.NewReader(&raw))
		if err != nil {
			return // net/http itself refuses this request before any handler runs
		}
		req.RemoteAddr = "127.0.0.1:40000"
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		resp := rec.Result()
		out := rec.Body.Bytes()
		describe := func() string {
			return fmt.Sprintf("%s %q (auth %q, Content-Type %q, %d-byte body) → %d %v %q",
				method, target, authz, ctype, len(body), resp.StatusCode, resp.Header, out)
		}
		if n, last := logs.take(); n > 0 {
			t.Fatalf("server logged %d error(s), last: %s\nrequest: %s", n, last, describe())
		}
		switch {
		case resp.StatusCode == 403 && route == "/mailauth/v1/password":
		case resp.StatusCode == 200, resp.StatusCode == 302, resp.StatusCode == 400, resp.StatusCode == 401,
			resp.StatusCode == 404, resp.StatusCode == 405, resp.StatusCode == 413:
		default:
			t.Fatalf("unexpected HTTP status: %s", describe())
		}
		ct := resp.Header.Get("Content-Type")
		switch {
		case route == "/oauth2/authorize" && resp.StatusCode == 302:
			loc := resp.Header.Get("Location")
			if loc != redirect && !strings.HasPrefix(loc, redirect+"?") {
				t.Fatalf("authorization redirects elsewhere: %s", describe())
			}
			return
		case route == "/oauth2/authorize" && (method == "GET" || method == "POST") && resp.StatusCode != 413:
			if !strings.HasPrefix(ct, "text/html") {
				t.Fatalf("authorization page is not HTML: %s", describe())
			}
			return
		case resp.StatusCode == 302:
			t.Fatalf("a redirect: %s", describe())
		case route == "/oauth2/revoke" && resp.StatusCode == 200 && len(out) == 0,
			route == "/oauth2/userinfo" && resp.StatusCode == 401 && len(out) == 0,
			method == "HEAD":
			return
		}
		if ct != "application/json" {
			t.Fatalf("Content-Type %q: %s", ct, describe())
		}
		var v map[string]any
		if err := json.Unmarshal(out, &v); err != nil {
			t.Fatalf("not a JSON object: %s", describe())
		}
		if resp.StatusCode >= 400 {
			if e, _ := v["error"].(string); e == "" {
				if r, _ := v["result"].(string); r == "" || !strings.HasPrefix(route, "/mailauth/") {
					t.Fatalf("an error answer without error code: %s", describe())
				}
			}
		}
	})
}
