package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/uapid/uapid/internal/app"
	"github.com/uapid/uapid/internal/config"
)

// This file drives the real handler in-process (no listeners, no TLS):
// the request bytes are parsed by net/http's own request reader, exactly
// as a listener would, and served by Server.handler.

const fuzzFixture = `root:
  password: "root-secret"
  tokens: [{name: billing, token: "ROOTTOKEN0123456789ABCDEFGHIJKLM"}]
accounts:
  - user: alice
    password: "Alice-pass-1"
    domains: [alice.test, shop.alice.test]
    databases: [alice_wp]
    tokens: [{name: ci, token: "ALICETOKEN0123456789ABCDEFGHIJKL"}]
    mailboxes:
      - address: info@alice.test
        password: "Info-pass-1"
      - address: locked@alice.test
        password: "Locked-pass-1"
        suspended_login: true
  - user: bob
    password: "Bob-pass-1"
    domains: [bob.test]
    mailboxes:
      - address: info@bob.test
        password: "Bob-mail-1"
`

// errorLog records log records at level Error and above: a panic in a
// handler or an "internal error" is logged there, while the client only
// sees a generic JSON error.
type errorLog struct {
	mu   sync.Mutex
	n    int
	last string
}

func (l *errorLog) Enabled(_ context.Context, lv slog.Level) bool { return lv >= slog.LevelError }
func (l *errorLog) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Message)
	r.Attrs(func(a slog.Attr) bool {
		if a.Key != "stack" {
			fmt.Fprintf(&b, " %s=%q", a.Key, a.Value.String())
		}
		return true
	})
	l.mu.Lock()
	l.n++
	l.last = b.String()
	l.mu.Unlock()
	return nil
}
func (l *errorLog) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *errorLog) WithGroup(string) slog.Handler      { return l }

func (l *errorLog) take() (int, string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n, last := l.n, l.last
	l.n, l.last = 0, ""
	return n, last
}

// newFuzzServer opens a real App (SQLite store in a temporary directory,
// the fixture above, all modules) and returns its Server. Brute-force
// protection exempts loopback so that authenticated paths stay reachable
// however many bad credentials the fuzzer sends.
func newFuzzServer(tb testing.TB, logs *errorLog, extra ...string) *Server {
	tb.Helper()
	dir := tb.TempDir()
	fx := filepath.Join(dir, "fixture.yaml")
	if err := os.WriteFile(fx, []byte(fuzzFixture), 0o600); err != nil {
		tb.Fatal(err)
	}
	fs, vals := config.FlagSet("fuzz", io.Discard)
	if err := fs.Parse(append([]string{
		"--data", filepath.Join(dir, "data"), "--fixture", fx, "--hostname", "localhost",
		"--bruteforce-allow", "127.0.0.0/8,::1/128", "--max-body", "4096",
	}, extra...)); err != nil {
		tb.Fatal(err)
	}
	cfg, err := config.Load(vals, func(string) string { return "" })
	if err != nil {
		tb.Fatal(err)
	}
	a, err := app.Open(context.Background(), cfg, slog.New(logs))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { a.Close() })
	s, err := New(a)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

var fuzzServices = []string{"cpaneld", "webmaild", "whostmgrd"}

// FuzzServeUAPI sends fuzzed requests to /execute/… (optionally behind a
// /cpsess… prefix): fuzzed method choice, path, query string,
// Content-Type and body, with no, good, wrong or fuzzed credentials, to
// each service's handler. Whatever the input, the answer is JSON
// (Content-Type application/json) with one of the statuses 200, 400, 401,
// 404, 405 or 413 — never 5xx, never HTML; a 401 is exactly the access
// denied body of SPEC §5; every other body is a UAPI result object
// (data, errors, messages, warnings, metadata, status 0 or 1, empty lists
// null, a failure carrying at least one error); and the server logs no
// error (a recovered panic or an unexpected internal failure would be
// logged at level Error with the generic "The request failed" answer).
func FuzzServeUAPI(f *testing.F) {
	logs := &errorLog{}
	s := newFuzzServer(f, logs)
	handlers := make([]http.Handler, len(fuzzServices))
	for i, svc := range fuzzServices {
		handlers[i] = s.handler(svc, true)
	}
	logs.take() // start-up

	// sel: bits 0-1 service, bits 2-4 method, bit 5 /cpsess prefix.
	f.Add(byte(0), "Session/create_webmail_session_for_mail_user", "login=info&domain=alice.test", "", []byte(nil), byte(1), "")
	f.Add(byte(4), "Session/create_webmail_session_for_mail_user_check_password", "", "application/x-www-form-urlencoded", []byte("login=info&domain=alice.test&password=wrong"), byte(1), "")
	f.Add(byte(4), "Session/create_webmail_session_for_mail_user", "", "multipart/form-data; boundary=XX", []byte("--XX\r\nContent-Disposition: form-data; name=\"login\"\r\n\r\ninfo\r\n--XX\r\nContent-Disposition: form-data; name=\"domain\"\r\n\r\nalice.test\r\n--XX--\r\n"), byte(2), "")
	f.Add(byte(0), "Session/create_webmail_session_for_self", "locale=xx&remote_address=999.1.1.1", "", []byte(nil), byte(1), "")
	f.Add(byte(0), "Session/create_temp_user", "", "", []byte(nil), byte(1), "")
	f.Add(byte(0x20), "Session/create_temp_user", "", "", []byte(nil), byte(0), "")
	f.Add(byte(0), "Nope/f", "", "", []byte(nil), byte(1), "")
	f.Add(byte(0), "Session/_private", "", "", []byte(nil), byte(1), "")
	f.Add(byte(0), "Session/"+strings.Repeat("f", 1100), "", "", []byte(nil), byte(1), "")
	f.Add(byte(0), "Session/f/extra", "a=%zz", "", []byte(nil), byte(1), "")
	f.Add(byte(4), "Session/create_webmail_session_for_mail_user", "", "application/x-www-form-urlencoded", bytes.Repeat([]byte("a"), 5000), byte(1), "")
	f.Add(byte(4), "Session/create_webmail_session_for_mail_user", "", "multipart/form-data", []byte("x"), byte(1), "")
	f.Add(byte(8), "Session/create_webmail_session_for_mail_user", "", "", []byte(nil), byte(1), "")
	f.Add(byte(1), "Session/create_webmail_session_for_mail_user", "login=info&domain=alice.test", "", []byte(nil), byte(3), "")
	f.Add(byte(1), "Email/list_pops", "", "", []byte(nil), byte(3), "")
	f.Add(byte(2), "Session/create_webmail_session_for_mail_user", "", "", []byte(nil), byte(4), "")
	f.Add(byte(0), "Tokens/list", "", "", []byte(nil), byte(5), "cpanel alice:ALICETOKEN0123456789ABCDEFGHIJKX")
	f.Add(byte(0), "Session/create_webmail_session_for_mail_user", "", "", []byte(nil), byte(5), "Basic "+base64.StdEncoding.EncodeToString([]byte("alice:wrong")))
	f.Add(byte(0), "Session/create_webmail_session_for_mail_user", "", "", []byte(nil), byte(5), "Basic !!!")
	f.Add(byte(0), "", "", "", []byte(nil), byte(1), "")
	f.Add(byte(0), "Session/create_webmail_session_for_mail_user", "login=info&domain=alice.test&login=x&remote_address=%3A%3A1", "", []byte(nil), byte(2), "")

	f.Fuzz(func(t *testing.T, sel byte, path, query, ctype string, body []byte, authSel byte, rawAuth string) {
		svc := int(sel&3) % len(fuzzServices)
		method := []string{"GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH", "POST"}[(sel>>2)&7]
		target := "/execute/" + path
		if sel&0x20 != 0 {
			target = "/cpsess0123456789" + target
		}
		if query != "" {
			target += "?" + query
		}
		var raw bytes.Buffer
		fmt.Fprintf(&raw, "%s %s HTTP/1.1\r\nHost: localhost\r\n", method, target)
		var authz string
		switch authSel % 6 {
		case 1:
			authz = "cpanel alice:ALICETOKEN0123456789ABCDEFGHIJKL"
		case 2:
			authz = "Basic " + base64.StdEncoding.EncodeToString([]byte("alice:Alice-pass-1"))
		case 3:
			authz = "Basic " + base64.StdEncoding.EncodeToString([]byte("info@alice.test:Info-pass-1"))
		case 4:
			authz = "whm root:ROOTTOKEN0123456789ABCDEFGHIJKLM"
		case 5:
			authz = rawAuth
		}
		if authz != "" {
			fmt.Fprintf(&raw, "Authorization: %s\r\n", authz)
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
		handlers[svc].ServeHTTP(rec, req)
		resp := rec.Result()
		out := rec.Body.Bytes()

		describe := func() string {
			return fmt.Sprintf("%s %q on %s (auth %q, Content-Type %q, %d-byte body) → %d %q",
				method, target, fuzzServices[svc], authz, ctype, len(body), resp.StatusCode, out)
		}
		if n, last := logs.take(); n > 0 {
			t.Fatalf("server logged %d error(s), last: %s\nrequest: %s", n, last, describe())
		}
		switch resp.StatusCode {
		case 200, 400, 401, 404, 405, 413:
		default:
			t.Fatalf("unexpected HTTP status: %s", describe())
		}
		if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
			t.Fatalf("Content-Type %q: %s", ct, describe())
		}
		if resp.StatusCode == 401 {
			if string(out) != accessDenied || resp.Header.Get("WWW-Authenticate") != `Basic realm="uapid"` {
				t.Fatalf("401 is not the access-denied answer: %s", describe())
			}
			return
		}
		checkResultObject(t, out, describe)
	})
}

// checkResultObject asserts the UAPI result shape of SPEC §2.
func checkResultObject(t *testing.T, out []byte, describe func() string) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(out))
	dec.UseNumber()
	var v map[string]any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("not a JSON object (%v): %s", err, describe())
	}
	if dec.More() {
		t.Fatalf("trailing data after the JSON object: %s", describe())
	}
	if len(v) != 6 {
		t.Fatalf("result has %d keys, want data, errors, messages, warnings, metadata, status: %s", len(v), describe())
	}
	for _, k := range []string{"data", "errors", "messages", "warnings", "metadata", "status"} {
		if _, ok := v[k]; !ok {
			t.Fatalf("result lacks %q: %s", k, describe())
		}
	}
	st, ok := v["status"].(json.Number)
	if !ok || (st != "0" && st != "1") {
		t.Fatalf("status is %#v: %s", v["status"], describe())
	}
	for _, k := range []string{"errors", "messages", "warnings"} {
		switch l := v[k].(type) {
		case nil:
		case []any:
			if len(l) == 0 {
				t.Fatalf("%s is [] (must be null when empty): %s", k, describe())
			}
			for _, e := range l {
				if _, ok := e.(string); !ok {
					t.Fatalf("%s holds a %T: %s", k, e, describe())
				}
			}
		default:
			t.Fatalf("%s is a %T: %s", k, l, describe())
		}
	}
	if _, ok := v["metadata"].(map[string]any); !ok {
		t.Fatalf("metadata is not an object: %s", describe())
	}
	if st == "0" {
		if v["errors"] == nil {
			t.Fatalf("a failed call without errors: %s", describe())
		}
		for _, e := range v["errors"].([]any) {
			if strings.HasPrefix(e.(string), "The request failed. (Error ID:") {
				t.Fatalf("internal failure answered: %s", describe())
			}
		}
	}
}
