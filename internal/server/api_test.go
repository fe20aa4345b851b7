package server_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/uapid/uapid/internal/testserver"
)

// The tests in this file are black-box: a real `uapid serve` on random
// loopback ports, real TLS, clients that verify the generated certificate.

func aliceToken() string { return testserver.CPanelToken("alice", testserver.AliceToken) }

// decodeResult decodes a bare UAPI result and checks the shape rules of
// SPEC §2 that hold for every answer.
func decodeResult(t *testing.T, r *testserver.Response) map[string]any {
	t.Helper()
	if r.StatusCode != http.StatusOK {
		t.Fatalf("HTTP %d, want 200: %s", r.StatusCode, r.Body)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q, want application/json", ct)
	}
	v := r.JSON(t)
	for _, k := range []string{"data", "errors", "messages", "warnings", "metadata", "status"} {
		if _, ok := v[k]; !ok {
			t.Fatalf("result lacks %q: %s", k, r.Body)
		}
	}
	st, ok := v["status"].(json.Number)
	if !ok || (st != "0" && st != "1") {
		t.Fatalf("status is %#v, want the number 0 or 1: %s", v["status"], r.Body)
	}
	for _, k := range []string{"errors", "messages", "warnings"} {
		if l, ok := v[k].([]any); ok && len(l) == 0 {
			t.Fatalf("%s is [], must be null when empty: %s", k, r.Body)
		}
	}
	if _, ok := v["metadata"].(map[string]any); !ok {
		t.Fatalf("metadata is %#v, want an object: %s", v["metadata"], r.Body)
	}
	return v
}

// wantError asserts status 0 with exactly the given error texts.
func wantError(t *testing.T, v map[string]any, texts ...string) {
	t.Helper()
	if v["status"] != json.Number("0") {
		t.Fatalf("status %v, want 0: %v", v["status"], v)
	}
	errs, _ := v["errors"].([]any)
	var got []string
	for _, e := range errs {
		got = append(got, fmt.Sprint(e))
	}
	if strings.Join(got, "\n") != strings.Join(texts, "\n") {
		t.Fatalf("errors\n got: %q\nwant: %q", got, texts)
	}
}

func TestListeningLinesAndGracefulStop(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{Plain: true})
	lines := strings.Split(strings.TrimSpace(srv.Stdout.String()), "\n")
	re := regexp.MustCompile(`^listening service=(cpaneld|webmaild|whostmgrd) tls=(true|false) addr=127\.0\.0\.1:[1-9][0-9]*$`)
	want := []string{"cpaneld true", "webmaild true", "whostmgrd true", "cpaneld false", "webmaild false", "whostmgrd false"}
	if len(lines) < len(want) {
		t.Fatalf("got %d lines, want %d:\n%s", len(lines), len(want), srv.Stdout.String())
	}
	for i, w := range want {
		m := re.FindStringSubmatch(lines[i])
		if m == nil || m[1]+" "+m[2] != w {
			t.Fatalf("line %d = %q, want service/tls %q", i, lines[i], w)
		}
	}
	// The plain listener really is plain HTTP and serves the same routes.
	r := srv.Get("cpaneld-plain", "/execute/Session/create_webmail_session_for_mail_user", aliceToken())
	wantError(t, decodeResult(t, r), "Provide the “login” and “domain” arguments.")
	if code := srv.Stop(); code != 0 {
		t.Fatalf("exit code %d after stop, want 0", code)
	}
}

func TestMetricsAddrHealth(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{Args: []string{"--metrics-addr", "127.0.0.1:0"}})
	lines := strings.Split(strings.TrimSpace(srv.Stdout.String()), "\n")
	if len(lines) < 4 || !strings.HasPrefix(lines[3], "listening service=metrics tls=false addr=127.0.0.1:") {
		t.Fatalf("want a metrics line after the three TLS lines:\n%s", srv.Stdout.String())
	}
	addr := strings.TrimPrefix(lines[3], "listening service=metrics tls=false addr=")
	for _, p := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get("http://" + addr + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("%s: HTTP %d", p, resp.StatusCode)
		}
	}
}

func TestResultShapeAndArgumentErrors(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{})
	const fn = "/execute/Session/create_webmail_session_for_mail_user"
	cases := []struct {
		name  string
		query string
		want  string
	}{
		{"both missing", "", "Provide the “login” and “domain” arguments."},
		{"login missing", "?domain=alice.test", "Provide the “login” argument."},
		{"domain missing", "?login=info", "Provide the “domain” argument."},
		{"login empty", "?login=&domain=alice.test", "The “login” argument cannot be empty."},
		{"both empty", "?login=&domain=", "The “login” and “domain” arguments cannot be empty."},
		{"missing wins over empty", "?login=", "Provide the “domain” argument."},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := decodeResult(t, srv.Get("cpaneld", fn+c.query, aliceToken()))
			wantError(t, v, c.want)
			if v["data"] != nil {
				t.Fatalf("data %v, want null", v["data"])
			}
		})
	}
	// Three missing together: check_password's first problem only, and the
	// three-name plural form through a function requiring three at once is
	// covered in package uapi; here the first-problem rule:
	v := decodeResult(t, srv.Get("cpaneld", "/execute/Session/create_webmail_session_for_mail_user_check_password", aliceToken()))
	wantError(t, v, "Provide the “login” argument.")
	v = decodeResult(t, srv.Get("cpaneld", "/execute/Session/create_webmail_session_for_mail_user_check_password?login=info&domain=alice.test&password=", aliceToken()))
	wantError(t, v, "The “password” argument cannot be empty.")
}

func TestUnknownModuleFunctionAndIllegalNames(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{})
	long := strings.Repeat("a", 1025)
	cases := []struct{ path, want string }{
		{"/execute/Nope/thing", "Failed to load module “Nope”."},
		{"/execute/Session/nope", "The system could not find the function “nope” in the module “Session”."},
		{"/execute/Session/_private", "Illegal function name: _private"},
		{"/execute/Session/bad-name", "Illegal function name: bad-name"},
		{"/execute/Session/" + long, "Illegal function name: " + long},
		{"/execute/Session/a%20b", "Illegal function name: a b"},
	}
	for _, c := range cases {
		v := decodeResult(t, srv.Get("cpaneld", c.path, aliceToken()))
		wantError(t, v, c.want)
	}
	// 1024 characters is still a legal name (then unknown).
	ok := strings.Repeat("b", 1024)
	v := decodeResult(t, srv.Get("cpaneld", "/execute/Session/"+ok, aliceToken()))
	wantError(t, v, "The system could not find the function “"+ok+"” in the module “Session”.")
}

func TestBodiesAndRepeatedKeys(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{})
	const fn = "/execute/Session/create_webmail_session_for_mail_user"
	// urlencoded body
	r := srv.PostForm(nil, "cpaneld", fn, aliceToken(), url.Values{"login": {"info"}, "domain": {"alice.test"}, "remote_address": {"127.0.0.1"}})
	if v := decodeResult(t, r); v["status"] != json.Number("1") {
		t.Fatalf("urlencoded: %s", r.Body)
	}
	// query plus body combine
	r = srv.PostForm(nil, "cpaneld", fn+"?login=info", aliceToken(), url.Values{"domain": {"alice.test"}})
	if v := decodeResult(t, r); v["status"] != json.Number("1") {
		t.Fatalf("query+body: %s", r.Body)
	}
	// multipart body
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	mw.WriteField("login", "info")
	mw.WriteField("domain", "alice.test")
	mw.Close()
	req, _ := http.NewRequest(http.MethodPost, srv.URL("cpaneld", fn), &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", aliceToken())
	r = srv.Do(nil, req)
	if v := decodeResult(t, r); v["status"] != json.Number("1") {
		t.Fatalf("multipart: %s", r.Body)
	}
	// A repeated key is a list: the first value is the one a scalar
	// argument takes.
	r = srv.Get("cpaneld", fn+"?login=info&login=sales&domain=alice.test", aliceToken())
	if v := decodeResult(t, r); v["status"] != json.Number("1") {
		t.Fatalf("repeated: %s", r.Body)
	}
}

func TestAccessDenied(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{})
	const fn = "/execute/Session/create_webmail_session_for_self?remote_address=127.0.0.1"
	const body = `{"status":0,"errors":["Access denied"],"data":null,"messages":null,"warnings":null,"metadata":{}}`
	denied := []struct {
		name, service, authz string
	}{
		{"no credentials", "cpaneld", ""},
		{"unknown user", "cpaneld", testserver.Basic("nobody", "whatever")},
		{"wrong password", "cpaneld", testserver.Basic("alice", "wrong")},
		{"empty password", "cpaneld", testserver.Basic("alice", "")},
		{"suspended account, right password", "cpaneld", testserver.Basic("sam", testserver.SamPassword)},
		{"suspended account, right token", "cpaneld", testserver.CPanelToken("sam", "SAMTOKEN0123456789ABCDEFGHIJKLMN")},
		{"mailbox of suspended account", "webmaild", testserver.Basic("info@sam.test", "Sam-mail-1")},
		{"mailbox on cPanel port", "cpaneld", testserver.Basic("info@alice.test", testserver.InfoPassword)},
		{"root on cPanel port", "cpaneld", testserver.Basic("root", testserver.RootPassword)},
		{"wrong token", "cpaneld", testserver.CPanelToken("alice", "ALICETOKEN0123456789ABCDEFGHIJKX")},
		{"token of another user", "cpaneld", testserver.CPanelToken("alice", testserver.BobToken)},
		{"whm scheme on cPanel port", "cpaneld", testserver.WHMToken("alice", testserver.AliceToken)},
		{"malformed token", "cpaneld", "cpanel alice:short"},
		{"token without user", "cpaneld", "cpanel :" + testserver.AliceToken},
		{"unknown scheme", "cpaneld", "Bearer " + testserver.AliceToken},
		{"broken base64", "cpaneld", "Basic !!!"},
		{"CRLF in token", "cpaneld", "cpanel alice:" + testserver.AliceToken + "%0d%0a"},
		{"cpanel token on Webmail port", "webmaild", aliceToken()},
		{"locked mailbox", "webmaild", testserver.Basic("locked@alice.test", "Locked-pass-1")},
	}
	for _, c := range denied {
		t.Run(c.name, func(t *testing.T) {
			r := srv.Get(c.service, fn, c.authz)
			if r.StatusCode != http.StatusUnauthorized {
				t.Fatalf("HTTP %d, want 401: %s", r.StatusCode, r.Body)
			}
			if got := r.Header.Get("WWW-Authenticate"); got != `Basic realm="uapid"` {
				t.Fatalf("WWW-Authenticate %q", got)
			}
			if ct := r.Header.Get("Content-Type"); ct != "application/json" {
				t.Fatalf("Content-Type %q", ct)
			}
			if string(r.Body) != body {
				t.Fatalf("body\n got %s\nwant %s", r.Body, body)
			}
		})
	}
	// An unknown user and a wrong password are indistinguishable: same
	// status, same headers (but the per-request id and date), same body.
	a := srv.Get("cpaneld", fn, testserver.Basic("nobody", "x"))
	b := srv.Get("cpaneld", fn, testserver.Basic("alice", "x"))
	if a.StatusCode != b.StatusCode || !bytes.Equal(a.Body, b.Body) {
		t.Fatal("unknown user and wrong password answer differently")
	}
	for k := range a.Header {
		if k == "Date" || k == "X-Request-Id" {
			continue
		}
		if a.Header.Get(k) != b.Header.Get(k) {
			t.Fatalf("header %s differs: %q vs %q", k, a.Header.Get(k), b.Header.Get(k))
		}
	}
	if len(a.Header) != len(b.Header) {
		t.Fatalf("header sets differ: %v vs %v", a.Header, b.Header)
	}
}

func TestAuthenticationAccepted(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{})
	const self = "/execute/Session/create_webmail_session_for_self?remote_address=127.0.0.1"
	const whm = "/json-api/version?api.version=1"
	ok := []struct {
		name, service, path, authz string
	}{
		{"account Basic on cPanel", "cpaneld", self, testserver.Basic("alice", testserver.AlicePassword)},
		{"account Basic, user in upper case", "cpaneld", self, testserver.Basic("ALICE", testserver.AlicePassword)},
		{"cpanel token", "cpaneld", self, aliceToken()},
		{"reseller's cpanel token", "cpaneld", self, testserver.CPanelToken("res", testserver.ResToken)},
		{"root Basic on WHM", "whostmgrd", whm, testserver.Basic("root", testserver.RootPassword)},
		{"root whm token", "whostmgrd", whm, testserver.WHMToken("root", testserver.RootToken)},
		{"root WHM token (upper-case scheme)", "whostmgrd", whm, "WHM root:" + testserver.RootToken},
		{"reseller Basic on WHM", "whostmgrd", whm, testserver.Basic("res", testserver.ResPassword)},
		{"reseller whm token", "whostmgrd", whm, testserver.WHMToken("res", testserver.ResToken)},
	}
	for _, c := range ok {
		t.Run(c.name, func(t *testing.T) {
			r := srv.Get(c.service, c.path, c.authz)
			if r.StatusCode != http.StatusOK {
				t.Fatalf("HTTP %d: %s", r.StatusCode, r.Body)
			}
		})
	}
	// Mailboxes authenticate on the Webmail ports, where Session is refused.
	r := srv.Get("webmaild", self, testserver.Basic("info@alice.test", testserver.InfoPassword))
	wantError(t, decodeResult(t, r), "Execution of Session::create_webmail_session_for_self (api version:3) is not permitted inside of webmail")

	deniedWHM := []struct{ name, authz string }{
		{"non-reseller Basic on WHM", testserver.Basic("alice", testserver.AlicePassword)},
		{"non-reseller whm token", testserver.WHMToken("alice", testserver.AliceToken)},
		{"root cpanel token on WHM", testserver.CPanelToken("root", testserver.RootToken)},
		{"root wrong password", testserver.Basic("root", "nope")},
	}
	for _, c := range deniedWHM {
		t.Run(c.name, func(t *testing.T) {
			if r := srv.Get("whostmgrd", whm, c.authz); r.StatusCode != http.StatusUnauthorized {
				t.Fatalf("HTTP %d, want 401", r.StatusCode)
			}
		})
	}
	// Tokens authenticate only API paths.
	if r := srv.Get("cpaneld", "/cpsess0123456789/", aliceToken()); r.StatusCode == http.StatusOK {
		t.Fatalf("token auth reached a non-API page: %s", r.Body)
	}
}

func TestWHMEnvelope(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{})
	root := testserver.Basic("root", testserver.RootPassword)
	v := srv.Get("whostmgrd", "/json-api/version?api.version=1", root).JSON(t)
	md := v["metadata"].(map[string]any)
	if md["command"] != "version" || md["result"] != json.Number("1") || md["version"] != json.Number("1") {
		t.Fatalf("metadata %v", md)
	}
	v = srv.Get("whostmgrd", "/json-api/nonesuch?api.version=1", root).JSON(t)
	md = v["metadata"].(map[string]any)
	if md["result"] != json.Number("0") || md["reason"] != "Unknown app (“nonesuch”) requested for this version (1) of the API." {
		t.Fatalf("unknown function: %v", v)
	}
	if _, has := v["data"]; has {
		t.Fatalf("failed answer carries data: %v", v)
	}
	// Without api.version (or with 0) WHM API 0 answers, in its shape.
	for _, path := range []string{"/json-api/version", "/json-api/version?api.version=0"} {
		v = srv.Get("whostmgrd", path, root).JSON(t)
		if v["version"] != "11.134.0.0" || v["metadata"] != nil {
			t.Fatalf("%s: %v", path, v)
		}
	}
	v = srv.Get("whostmgrd", "/json-api/nonesuch", root).JSON(t)
	cr, _ := v["cpanelresult"].(map[string]any)
	if cr == nil || cr["error"] != "Unknown app (“nonesuch”) requested for this version (0) of the API." {
		t.Fatalf("unknown API 0 function: %v", v)
	}
	v = srv.Get("whostmgrd", "/json-api/version?api.version=2", root).JSON(t)
	if md := v["metadata"].(map[string]any); md["result"] != json.Number("0") || md["reason"] != "WHM API version “2” is not supported; use “api.version=1”." {
		t.Fatalf("api.version=2: %v", v)
	}
}

// TestBadInputNeverBreaks sends hostile and malformed requests to /execute:
// every answer is JSON, never a 5xx.
func TestBadInputNeverBreaks(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{})
	c := srv.Client()
	type tc struct {
		method, path, ctype, body string
	}
	big := strings.Repeat("x", 2<<20)
	cases := []tc{
		{"GET", "/execute", "", ""},
		{"GET", "/execute/", "", ""},
		{"GET", "/execute/Session", "", ""},
		{"GET", "/execute/Session/", "", ""},
		{"GET", "/execute//create_webmail_session_for_self", "", ""},
		{"GET", "/execute/Session/create_webmail_session_for_self/extra", "", ""},
		{"GET", "/execute/%C0%AF/x", "", ""},
		{"GET", "/execute/Session/create_webmail_session_for_mail_user?login=%ZZ", "", ""},
		{"GET", "/execute/Session/create_webmail_session_for_mail_user?login=a%00b&domain=x", "", ""},
		{"GET", "/execute/Session/create_webmail_session_for_mail_user?login=info&domain=alice.test&remote_address=" + url.QueryEscape("1.2.3.4\r\nX: y"), "", ""},
		{"POST", "/execute/Session/create_webmail_session_for_mail_user", "multipart/form-data; boundary=zzz", "--zzz\r\nbroken"},
		{"POST", "/execute/Session/create_webmail_session_for_mail_user", "multipart/form-data", "no boundary"},
		{"POST", "/execute/Session/create_webmail_session_for_mail_user", "application/x-www-form-urlencoded", "login=%"},
		{"POST", "/execute/Session/create_webmail_session_for_mail_user", "application/x-www-form-urlencoded", big},
		{"POST", "/execute/Session/create_webmail_session_for_mail_user", "application/json", `{"login":"info"}`},
		{"PUT", "/execute/Session/create_webmail_session_for_self", "", ""},
		{"DELETE", "/execute/Session/create_webmail_session_for_self", "", ""},
		{"GET", "/cpsess0000000001/execute/Session/create_webmail_session_for_self", "", ""},
		{"GET", "/execute/Session/create_webmail_session_for_mail_user?login=" + strings.Repeat("%E2%80%9C", 3000) + "&domain=x", "", ""},
	}
	for _, k := range cases {
		t.Run(k.method+" "+truncate(k.path, 60), func(t *testing.T) {
			req, err := http.NewRequest(k.method, srv.URL("cpaneld", k.path), strings.NewReader(k.body))
			if err != nil {
				t.Fatal(err)
			}
			if k.ctype != "" {
				req.Header.Set("Content-Type", k.ctype)
			}
			req.Header.Set("Authorization", aliceToken())
			r := srv.Do(c, req)
			if r.StatusCode >= 500 {
				t.Fatalf("HTTP %d: %s", r.StatusCode, r.Body)
			}
			if ct := r.Header.Get("Content-Type"); ct != "application/json" {
				t.Fatalf("Content-Type %q: %s", ct, r.Body)
			}
			var v map[string]any
			if err := json.Unmarshal(r.Body, &v); err != nil {
				t.Fatalf("not JSON: %s", r.Body)
			}
			if v["status"] != float64(0) && v["status"] != float64(1) {
				t.Fatalf("status %v", v["status"])
			}
		})
	}
	if strings.Contains(srv.Stderr.String(), "panic") {
		t.Fatalf("the server logged a panic:\n%s", srv.Stderr.String())
	}
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
