package server_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/uapid/uapid/internal/testserver"
)

// from sends a GET as if from client address addr (the test server trusts
// 127.0.0.1 as a proxy, so X-Forwarded-For names the client).
func from(t *testing.T, srv *testserver.Server, addr, service, path, authz string) *testserver.Response {
	t.Helper()
	req, err := http.NewRequest("GET", srv.URL(service, path), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Forwarded-For", addr)
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	return srv.Do(nil, req)
}

func bruteforceServer(t *testing.T, extra ...string) *testserver.Server {
	args := append([]string{"--trusted-proxies", "127.0.0.1", "--bruteforce-ip-max", "3", "--bruteforce-user-max", "5",
		"--bruteforce-allow", "192.0.2.0/24"}, extra...)
	return testserver.Start(t, testserver.Options{Args: args})
}

const selfFn = "/execute/Session/create_webmail_session_for_self?remote_address=127.0.0.1"

func TestBruteforceBlocksAddress(t *testing.T) {
	srv := bruteforceServer(t)
	good := testserver.Basic("alice", testserver.AlicePassword)
	for i := range 4 {
		if r := from(t, srv, "203.0.113.1", "cpaneld", selfFn, testserver.Basic("alice", "wrong"+string(rune('0'+i)))); r.StatusCode != 401 {
			t.Fatalf("HTTP %d", r.StatusCode)
		}
	}
	// Blocked: even the right password gets the same 401, unchecked.
	r := from(t, srv, "203.0.113.1", "cpaneld", selfFn, good)
	if r.StatusCode != 401 || string(r.Body) != `{"status":0,"errors":["Access denied"],"data":null,"messages":null,"warnings":null,"metadata":{}}` {
		t.Fatalf("blocked address: HTTP %d %s", r.StatusCode, r.Body)
	}
	// Tokens are blocked for that address too.
	if r := from(t, srv, "203.0.113.1", "cpaneld", selfFn, aliceToken()); r.StatusCode != 401 {
		t.Fatalf("token from blocked address: HTTP %d", r.StatusCode)
	}
	// A legitimate user elsewhere keeps working.
	if r := from(t, srv, "198.51.100.2", "cpaneld", selfFn, good); r.StatusCode != 200 {
		t.Fatalf("other address: HTTP %d", r.StatusCode)
	}
	// Allow-listed addresses are never blocked.
	for range 10 {
		from(t, srv, "192.0.2.7", "cpaneld", selfFn, testserver.Basic("alice", "wrong"))
	}
	if r := from(t, srv, "192.0.2.7", "cpaneld", selfFn, good); r.StatusCode != 200 {
		t.Fatalf("allow-listed address blocked: HTTP %d", r.StatusCode)
	}
	if !strings.Contains(srv.Stderr.String(), "brute-force block") {
		t.Fatal("the block was not logged")
	}
}

func TestBruteforceUserBlockSparesKnownAddress(t *testing.T) {
	srv := bruteforceServer(t, "--bruteforce-ip-max", "1000")
	good := testserver.Basic("alice", testserver.AlicePassword)
	if r := from(t, srv, "198.51.100.2", "cpaneld", selfFn, good); r.StatusCode != 200 {
		t.Fatalf("first login: HTTP %d", r.StatusCode)
	}
	for i := range 6 {
		from(t, srv, "203.0.113."+string(rune('1'+i)), "cpaneld", selfFn, testserver.Basic("alice", "wrong"))
	}
	if r := from(t, srv, "203.0.113.99", "cpaneld", selfFn, good); r.StatusCode != 401 {
		t.Fatalf("user not blocked for a new address: HTTP %d", r.StatusCode)
	}
	if r := from(t, srv, "198.51.100.2", "cpaneld", selfFn, good); r.StatusCode != 200 {
		t.Fatalf("the owner's known address is locked out: HTTP %d", r.StatusCode)
	}
	if r := from(t, srv, "203.0.113.99", "cpaneld", selfFn, testserver.Basic("bob", testserver.BobPassword)); r.StatusCode != 200 {
		t.Fatalf("another user is blocked: HTTP %d", r.StatusCode)
	}
}

func TestBruteforceCheckPasswordAndLogins(t *testing.T) {
	srv := bruteforceServer(t)
	const fn = "/execute/Session/create_webmail_session_for_mail_user_check_password"
	// The portal (198.51.100.3) checks passwords for its end users; one end
	// user (203.0.113.5) guesses.
	q := func(pw, enduser string) string {
		return fn + "?" + url.Values{"login": {"info"}, "domain": {"alice.test"}, "password": {pw}, "remote_address": {enduser}}.Encode()
	}
	for range 4 {
		from(t, srv, "198.51.100.3", "cpaneld", q("wrong", "203.0.113.5"), aliceToken())
	}
	r := from(t, srv, "198.51.100.3", "cpaneld", q(testserver.InfoPassword, "203.0.113.5"), aliceToken())
	v := decodeResult(t, r)
	wantError(t, v, "The provided password is incorrect.")
	if d := v["data"].(map[string]any); d["type"] != "BadPassword" {
		t.Fatalf("data %v", d)
	}
	// The same portal serving another end user still works, and the portal
	// itself is not locked out of the API.
	if v := decodeResult(t, from(t, srv, "198.51.100.3", "cpaneld", q(testserver.InfoPassword, "198.51.100.77"), aliceToken())); v["status"] != json.Number("1") {
		t.Fatalf("other end user: %v", v)
	}
	if r := from(t, srv, "198.51.100.3", "cpaneld", selfFn, aliceToken()); r.StatusCode != 200 {
		t.Fatalf("portal locked out: HTTP %d", r.StatusCode)
	}

	// Guessing session secrets blocks the address for session logins.
	s := createSession(t, srv, aliceToken(), mailQ("info", "alice.test", "remote_address", "203.0.113.6"))
	for range 4 {
		req, _ := http.NewRequest("POST", srv.URL("webmaild", s.Token+"/login/"), strings.NewReader(url.Values{"session": {s.Session + "x"}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Forwarded-For", "203.0.113.6")
		srv.Do(srv.Client(), req)
	}
	req, _ := http.NewRequest("POST", srv.URL("webmaild", s.Token+"/login/"), strings.NewReader(url.Values{"session": {s.Session}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Forwarded-For", "203.0.113.6")
	wantLoginFailure(t, srv.Do(srv.Client(), req), "invalid_session")

	// Password logins count and block as well.
	for range 4 {
		req, _ := http.NewRequest("POST", srv.URL("cpaneld", "/login/?login_only=1"), strings.NewReader(url.Values{"user": {"bob"}, "pass": {"nope"}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Forwarded-For", "203.0.113.7")
		srv.Do(srv.Client(), req)
	}
	req, _ = http.NewRequest("POST", srv.URL("cpaneld", "/login/?login_only=1"), strings.NewReader(url.Values{"user": {"bob"}, "pass": {testserver.BobPassword}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Forwarded-For", "203.0.113.7")
	if r := srv.Do(srv.Client(), req); r.StatusCode != 401 {
		t.Fatalf("password login from a blocked address: HTTP %d", r.StatusCode)
	}
}
