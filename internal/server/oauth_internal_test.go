package server

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uapid/uapid/internal/app"
	"github.com/uapid/uapid/internal/config"
	"github.com/uapid/uapid/internal/session"
	"github.com/uapid/uapid/internal/uapi"
)

// fakeClock is a settable clock for the session manager.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

const (
	clockClient   = "roundcube"
	clockSecret   = "Roundcube-secret-0123456789"
	clockRedirect = "https://mail.example/index.php/login/oauth"
)

// newClockServer opens an App whose sessions (and so OAuth codes and
// tokens) run on a fake clock, with one OAuth client, and returns its
// Webmail handler, the clock and a logged-in Webmail cookie of
// info@alice.test.
func newClockServer(t *testing.T) (http.Handler, *fakeClock, string) {
	t.Helper()
	dir := t.TempDir()
	fx := filepath.Join(dir, "fixture.yaml")
	if err := os.WriteFile(fx, []byte(fuzzFixture), 0o600); err != nil {
		t.Fatal(err)
	}
	secret := filepath.Join(dir, "rc.secret")
	if err := os.WriteFile(secret, []byte(clockSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	fs, vals := config.FlagSet("clock", io.Discard)
	if err := fs.Parse([]string{"--data", filepath.Join(dir, "data"), "--fixture", fx, "--hostname", "localhost",
		"--oauth-clients", clockClient + ":" + secret + ":" + clockRedirect, "--idle-timeout", "15m", "--max-age", "1h"}); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(vals, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.Open(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	clock := &fakeClock{t: time.Now().Add(time.Hour).Truncate(time.Millisecond)}
	a.Sessions.Now = clock.now
	s, err := New(a)
	if err != nil {
		t.Fatal(err)
	}
	r, _, err := a.Sessions.Create(t.Context(), session.NewSession{User: "info@alice.test", Account: "alice",
		Service: uapi.ServiceWebmail, Tag: session.TagMailUser, Creator: "alice", Method: "test"})
	if err != nil {
		t.Fatal(err)
	}
	_, cookie, err := a.Sessions.Redeem(t.Context(), r, clock.now())
	if err != nil {
		t.Fatal(err)
	}
	return s.handler(uapi.ServiceWebmail, true), clock, cookie
}

func serve(h http.Handler, req *http.Request) *httptest.ResponseRecorder {
	req.RemoteAddr = "127.0.0.1:40000"
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

// clockCode asks for a code with the cookie.
func clockCode(t *testing.T, h http.Handler, cookie string) string {
	t.Helper()
	q := url.Values{"response_type": {"code"}, "client_id": {clockClient}, "redirect_uri": {clockRedirect}}
	req := httptest.NewRequest("GET", "https://localhost/oauth2/authorize?"+q.Encode(), nil)
	req.AddCookie(&http.Cookie{Name: "webmailsession", Value: url.QueryEscape(cookie)})
	w := serve(h, req)
	if w.Code != http.StatusFound {
		t.Fatalf("authorize: HTTP %d %s", w.Code, w.Body)
	}
	u, _ := url.Parse(w.Header().Get("Location"))
	code := u.Query().Get("code")
	if code == "" {
		t.Fatalf("no code in %s", u)
	}
	return code
}

// clockToken exchanges a code and returns the status and answer.
func clockToken(t *testing.T, h http.Handler, code string) (int, map[string]any) {
	t.Helper()
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {clockRedirect},
		"client_id": {clockClient}, "client_secret": {clockSecret}}
	req := httptest.NewRequest("POST", "https://localhost/oauth2/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w := serve(h, req)
	var v map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &v); err != nil {
		t.Fatalf("token answer is not JSON: %s", w.Body)
	}
	return w.Code, v
}

// TestOAuthCodeExpires: a code is good for 60 s, not a millisecond more.
func TestOAuthCodeExpires(t *testing.T) {
	h, clock, cookie := newClockServer(t)
	code := clockCode(t, h, cookie)
	clock.add(60 * time.Second)
	status, v := clockToken(t, h, code)
	if status != http.StatusBadRequest || v["error"] != "invalid_grant" {
		t.Fatalf("a code 60 s old: HTTP %d %v, want 400 invalid_grant", status, v)
	}
	code = clockCode(t, h, cookie)
	clock.add(59*time.Second + 999*time.Millisecond)
	if status, v := clockToken(t, h, code); status != http.StatusOK {
		t.Fatalf("a code 59.999 s old: HTTP %d %v", status, v)
	}
}

// TestOAuthTokenNeverOutlivesSession: expires_in is at most what is left
// of the session's idle and absolute limits.
func TestOAuthTokenNeverOutlivesSession(t *testing.T) {
	h, clock, cookie := newClockServer(t)
	status, v := clockToken(t, h, clockCode(t, h, cookie))
	if n := v["expires_in"].(float64); status != http.StatusOK || n != 15*60 {
		t.Fatalf("a fresh session: HTTP %d expires_in %v, want the idle timeout 900", status, v["expires_in"])
	}
	// 50 minutes on (used every 10), 10 minutes are left of the hour.
	for range 5 {
		clock.add(10 * time.Minute)
		clockCode(t, h, cookie)
	}
	status, v = clockToken(t, h, clockCode(t, h, cookie))
	if n := v["expires_in"].(float64); status != http.StatusOK || n != 10*60 {
		t.Fatalf("50 min into a 1 h session: HTTP %d expires_in %v, want 600", status, v["expires_in"])
	}
}
