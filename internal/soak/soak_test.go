// Package soak runs a mixed load against an in-process uapid for
// $UAPID_SOAK_DURATION (default 3s; CI sets a minute) and checks that
// goroutines, open file descriptors and the heap come back to where they
// were once the load stops: nothing leaks per request or per session.
package soak

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/uapid/uapid/internal/testserver"
)

// Bounds on what may remain after the load and the settle.
const (
	maxExtraGoroutines = 10
	maxExtraFDs        = 10
	maxExtraHeap       = 16 << 20
)

func soakDuration(t *testing.T) time.Duration {
	t.Helper()
	s := os.Getenv("UAPID_SOAK_DURATION")
	if s == "" {
		return 3 * time.Second
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		t.Fatalf("UAPID_SOAK_DURATION=%q is not a positive duration", s)
	}
	return d
}

// usage is a snapshot of the process's resources.
type usage struct {
	goroutines int
	fds        int
	heapInuse  uint64
}

func (u usage) String() string {
	return fmt.Sprintf("%d goroutines, %d open fds, %.1f MiB heap in use", u.goroutines, u.fds, float64(u.heapInuse)/(1<<20))
}

func countFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("cannot count open file descriptors: %v", err)
	}
	return len(ents)
}

// listFDs describes the open file descriptors, for a failure message.
func listFDs() string {
	ents, _ := os.ReadDir("/proc/self/fd")
	var out []string
	for _, e := range ents {
		target, _ := os.Readlink("/proc/self/fd/" + e.Name())
		out = append(out, e.Name()+"→"+target)
	}
	return strings.Join(out, " ")
}

func measure(t *testing.T) usage {
	t.Helper()
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return usage{goroutines: runtime.NumGoroutine(), fds: countFDs(t), heapInuse: ms.HeapInuse}
}

// settle closes the client's idle connections, lets the server notice and
// its connection goroutines exit, and collects garbage; it waits (up to 10s)
// until goroutines and fds are within the bounds of ref, if given.
func settle(t *testing.T, tr *http.Transport, ref *usage) usage {
	t.Helper()
	tr.CloseIdleConnections()
	time.Sleep(300 * time.Millisecond)
	u := measure(t)
	for deadline := time.Now().Add(10 * time.Second); ref != nil && time.Now().Before(deadline); {
		if u.goroutines <= ref.goroutines+maxExtraGoroutines && u.fds <= ref.fds+maxExtraFDs {
			break
		}
		tr.CloseIdleConnections()
		time.Sleep(200 * time.Millisecond)
		u = measure(t)
	}
	return u
}

// loader is the client side of the load.
type loader struct {
	srv    *testserver.Server
	c      *http.Client
	counts sync.Map // op name → *atomic.Int64
	errs   atomic.Int64
	mu     sync.Mutex
	first  []string
}

func (l *loader) count(op string) {
	v, _ := l.counts.LoadOrStore(op, new(atomic.Int64))
	v.(*atomic.Int64).Add(1)
}

func (l *loader) fail(format string, args ...any) {
	l.errs.Add(1)
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.first) < 10 {
		l.first = append(l.first, fmt.Sprintf(format, args...))
	}
}

// do sends one request and returns status, the named cookie (if set) and
// the body.
func (l *loader) do(method, service, path, authz, cookieName, cookie string, form url.Values) (int, string, []byte, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, l.srv.URL(service, path), body)
	if err != nil {
		return 0, "", nil, err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	if cookie != "" {
		req.AddCookie(&http.Cookie{Name: cookieName, Value: cookie})
	}
	resp, err := l.c.Do(req)
	if err != nil {
		return 0, "", nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, "", nil, err
	}
	var set string
	for _, c := range resp.Cookies() {
		if c.Name == cookieName && c.Value != "" {
			set = c.Value
		}
	}
	return resp.StatusCode, set, b, nil
}

// expect runs a request and checks its status.
func (l *loader) expect(op string, want int, method, service, path, authz, cookieName, cookie string, form url.Values) (string, []byte, bool) {
	code, set, b, err := l.do(method, service, path, authz, cookieName, cookie, form)
	if err != nil {
		l.fail("%s: %v", op, err)
		return "", nil, false
	}
	if code != want {
		l.fail("%s: HTTP %d, want %d: %.200s", op, code, want, b)
		return "", nil, false
	}
	l.count(op)
	return set, b, true
}

func uapiData(b []byte) (status string, data map[string]any) {
	var v struct {
		Status json.Number    `json:"status"`
		Data   map[string]any `json:"data"`
	}
	json.Unmarshal(b, &v)
	return v.Status.String(), v.Data
}

var aliceToken = testserver.CPanelToken("alice", testserver.AliceToken)

// webmailSession: create, log in, open the landing page, log out.
func (l *loader) webmailSession(full bool) {
	_, b, ok := l.expect("create", 200, "GET", "cpaneld", "/execute/Session/create_webmail_session_for_mail_user?login=info&domain=alice.test", aliceToken, "", "", nil)
	if !ok {
		return
	}
	st, data := uapiData(b)
	tok, _ := data["token"].(string)
	secret, _ := data["session"].(string)
	if st != "1" || tok == "" || secret == "" {
		l.fail("create: %.200s", b)
		return
	}
	if !full {
		return // an unused session, left to expire
	}
	cookie, _, ok := l.expect("login", 302, "POST", "webmaild", tok+"/login/", "", "webmailsession", "", url.Values{"session": {secret}})
	if !ok {
		return
	}
	if cookie == "" {
		l.fail("login: no cookie")
		return
	}
	if _, _, ok := l.expect("landing", 200, "GET", "webmaild", tok+"/", "", "webmailsession", cookie, nil); !ok {
		return
	}
	l.expect("logout", 302, "GET", "webmaild", tok+"/logout/", "", "webmailsession", cookie, nil)
}

// cpanelSession: WHM create_user_session, log in on the cPanel port, call
// UAPI through the session, log out.
func (l *loader) cpanelSession() {
	_, b, ok := l.expect("whm create_user_session", 200, "GET", "whostmgrd", "/json-api/create_user_session?api.version=1&user=alice&service=cpaneld",
		testserver.WHMToken("root", testserver.RootToken), "", "", nil)
	if !ok {
		return
	}
	var env struct {
		Data struct {
			Token   string `json:"cp_security_token"`
			Session string `json:"session"`
		} `json:"data"`
	}
	if json.Unmarshal(b, &env) != nil || env.Data.Token == "" {
		l.fail("create_user_session: %.200s", b)
		return
	}
	tok := env.Data.Token
	cookie, _, ok := l.expect("login", 302, "POST", "cpaneld", tok+"/login/", "", "cpsession", "", url.Values{"session": {env.Data.Session}})
	if !ok {
		return
	}
	if _, b, ok := l.expect("session uapi", 200, "GET", "cpaneld", tok+"/execute/Session/create_temp_user", "", "cpsession", cookie, nil); ok {
		if st, _ := uapiData(b); st == "" {
			l.fail("create_temp_user: %.200s", b)
		}
	}
	l.expect("logout", 302, "POST", "cpaneld", tok+"/logout/", "", "cpsession", cookie, url.Values{})
}

// passwordLogin: a good password login on the cPanel port, the landing
// page, then logout.
func (l *loader) passwordLogin() {
	cookie, body, ok := l.expect("password login", 200, "POST", "cpaneld", "/login/?login_only=1", "", "cpsession", "",
		url.Values{"user": {"alice"}, "pass": {testserver.AlicePassword}})
	if !ok {
		return
	}
	var v struct {
		Token string `json:"security_token"`
	}
	json.Unmarshal(body, &v)
	if v.Token == "" || cookie == "" {
		l.fail("password login: %.200s", body)
		return
	}
	if _, _, ok := l.expect("landing", 200, "GET", "cpaneld", v.Token+"/", "", "cpsession", cookie, nil); !ok {
		return
	}
	l.expect("logout", 302, "GET", "cpaneld", v.Token+"/logout/", "", "cpsession", cookie, nil)
}

// failures: a wrong password, a bogus session secret, a bad token, an
// unknown user.
func (l *loader) failures() {
	switch rand.IntN(4) {
	case 0:
		l.expect("failed password login", 401, "POST", "cpaneld", "/login/?login_only=1", "", "", "",
			url.Values{"user": {"alice"}, "pass": {"wrong"}})
	case 1:
		l.expect("failed session login", 401, "POST", "webmaild", "/cpsess0000000001/login/", "", "", "",
			url.Values{"session": {"info@alice.test:AAAAAAAAAAAAAAAA:CREATE_WEBMAIL_SESSION_FOR_MAIL_USER,00000000000000000000000000000000"}})
	case 2:
		l.expect("failed token", 401, "GET", "cpaneld", "/execute/Session/create_webmail_session_for_self", testserver.CPanelToken("alice", "WRONGTOKEN0123456789ABCDEFGHIJKL"), "", "", nil)
	case 3:
		l.expect("failed password login", 401, "POST", "webmaild", "/login/?login_only=1", "", "", "",
			url.Values{"user": {"nobody@alice.test"}, "pass": {"x"}})
	}
}

// checkPassword: Session::create_webmail_session_for_mail_user_check_password
// with the right and a wrong password.
func (l *loader) checkPassword() {
	good := rand.IntN(2) == 0
	pass := testserver.InfoPassword
	if !good {
		pass = "wrong-password"
	}
	_, b, ok := l.expect("check_password", 200, "POST", "cpaneld", "/execute/Session/create_webmail_session_for_mail_user_check_password", aliceToken, "", "",
		url.Values{"login": {"info"}, "domain": {"alice.test"}, "password": {pass}})
	if !ok {
		return
	}
	st, data := uapiData(b)
	switch {
	case good && st != "1":
		l.fail("check_password with the right password: %.200s", b)
	case !good && (st != "0" || data["type"] != "BadPassword"):
		l.fail("check_password with a wrong password: %.200s", b)
	}
}

func (l *loader) one() {
	switch n := rand.IntN(10); {
	case n < 3:
		l.webmailSession(true)
	case n < 4:
		l.webmailSession(false)
	case n < 5:
		l.cpanelSession()
	case n < 6:
		l.passwordLogin()
	case n < 8:
		l.failures()
	default:
		l.checkPassword()
	}
}

// TestSoak: after a mixed load of session creation, logins, landing pages,
// logouts, failed logins and password checks, goroutines and open file
// descriptors return to their level before the load (± a small bound) and
// the heap in use stays within a bound of it.
func TestSoak(t *testing.T) {
	dur := soakDuration(t)
	srv := testserver.Start(t, testserver.Options{Args: []string{
		// Failed attempts are part of the load: count them (the limiter's
		// bookkeeping is exercised) but never block the test client.
		"--bruteforce-ip-max", "1000000", "--bruteforce-user-max", "1000000",
		// The server's log goes to an in-memory buffer of this process;
		// keep it to errors so that it does not count as heap growth.
		"--log-level", "error",
	}})
	tr := &http.Transport{
		TLSClientConfig:     &tls.Config{RootCAs: srv.RootCAs, ServerName: "localhost"},
		MaxIdleConnsPerHost: 16,
	}
	defer tr.CloseIdleConnections()
	l := &loader{srv: srv, c: &http.Client{
		Timeout:       30 * time.Second,
		Transport:     tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}

	// Warm up, with as many concurrent workers as the load (so that
	// connection pools reach their working size): every kind of request a
	// few times, then take the baseline.
	const workers = 8
	var warm sync.WaitGroup
	for range workers {
		warm.Go(func() {
			for range 2 {
				l.webmailSession(true)
				l.webmailSession(false)
				l.cpanelSession()
				l.passwordLogin()
				for range 4 {
					l.failures()
				}
				l.checkPassword()
				l.checkPassword()
			}
		})
	}
	warm.Wait()
	if l.errs.Load() > 0 {
		t.Fatalf("warm-up failed: %q", l.first)
	}
	l.counts.Clear()
	start := settle(t, tr, nil)
	t.Logf("start: %v", start)

	deadline := time.Now().Add(dur)
	var wg sync.WaitGroup
	var peakG atomic.Int64
	for range workers {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				l.one()
				if g := int64(runtime.NumGoroutine()); g > peakG.Load() {
					peakG.Store(g)
				}
			}
		})
	}
	wg.Wait()

	var total int64
	var ops []string
	l.counts.Range(func(k, v any) bool {
		n := v.(*atomic.Int64).Load()
		total += n
		ops = append(ops, fmt.Sprintf("%s %d", k, n))
		return true
	})
	t.Logf("load: %v with %d workers, %d requests (%.0f/s): %s; peak %d goroutines",
		dur, workers, total, float64(total)/dur.Seconds(), strings.Join(ops, ", "), peakG.Load())
	if n := l.errs.Load(); n > 0 {
		t.Errorf("%d requests answered unexpectedly, first: %q", n, l.first)
	}

	end := settle(t, tr, &start)
	t.Logf("end:   %v", end)
	if end.goroutines > start.goroutines+maxExtraGoroutines {
		buf := make([]byte, 1<<20)
		n := runtime.Stack(buf, true)
		t.Errorf("goroutines: %d after the load, %d before (bound +%d)\n%s", end.goroutines, start.goroutines, maxExtraGoroutines, buf[:n])
	}
	if end.fds > start.fds+maxExtraFDs {
		t.Errorf("open fds: %d after the load, %d before (bound +%d): %s", end.fds, start.fds, maxExtraFDs, listFDs())
	}
	if end.heapInuse > start.heapInuse+maxExtraHeap {
		t.Errorf("heap in use: %.1f MiB after the load, %.1f MiB before (bound +%d MiB)",
			float64(end.heapInuse)/(1<<20), float64(start.heapInuse)/(1<<20), maxExtraHeap>>20)
	}
}
