package crashtest

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql" // registers the "mysql" driver

	"github.com/uapid/uapid/internal/store/sqlstore"
	"github.com/uapid/uapid/internal/testserver"
)

// Login states of a recorded session, as the client knows them.
const (
	notTried = iota // no login was ever sent
	unknown         // a login was sent but its answer was lost in the crash
	loggedIn        // a login was answered 302
)

// sess is a session whose creation was answered with success.
type sess struct {
	service       string // "webmaild" (Session::create_webmail_session_for_mail_user) or "cpaneld" (WHM create_user_session)
	token, secret string
	state         int
	cookie        string // cookie value of a login answered 302
	tempUser      string // name from create_temp_user (cPanel sessions)
}

var cookieNames = map[string]string{"cpaneld": "cpsession", "webmaild": "webmailsession", "whostmgrd": "whostmgrsession"}

// client wraps the HTTP client and the current process's addresses.
type client struct {
	c *http.Client
	p *proc
}

// do sends a request and reads the answer. A transport error (the process
// was killed) is returned as err.
func (c *client) do(method, service, path, authz, cookie string, form url.Values) (int, http.Header, []byte, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, c.p.url(service, path), body)
	if err != nil {
		return 0, nil, nil, err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	if cookie != "" {
		req.AddCookie(&http.Cookie{Name: cookieNames[service], Value: cookie})
	}
	resp, err := c.c.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, nil, err
	}
	return resp.StatusCode, resp.Header, b, nil
}

func decodeJSON(b []byte) (map[string]any, error) {
	var v map[string]any
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		return nil, fmt.Errorf("not JSON (%v): %.300s", err, b)
	}
	return v, nil
}

// createWebmail asks, as alice with her API token, for a Webmail session of
// info@alice.test. answered is false when the request got no answer.
func (c *client) createWebmail() (s *sess, answered bool, err error) {
	code, _, b, err := c.do("GET", "cpaneld", "/execute/Session/create_webmail_session_for_mail_user?login=info&domain=alice.test",
		testserver.CPanelToken("alice", testserver.AliceToken), "", nil)
	if err != nil {
		return nil, false, err
	}
	v, err := decodeJSON(b)
	if err != nil || code != 200 || v["status"] != json.Number("1") {
		return nil, true, fmt.Errorf("create_webmail_session_for_mail_user answered %d: %.300s", code, b)
	}
	data, _ := v["data"].(map[string]any)
	tok, _ := data["token"].(string)
	secret, _ := data["session"].(string)
	if tok == "" || secret == "" {
		return nil, true, fmt.Errorf("create_webmail_session_for_mail_user data: %.300s", b)
	}
	return &sess{service: "webmaild", token: tok, secret: secret}, true, nil
}

// createCPanel asks WHM (root's token) for a cPanel session of alice.
func (c *client) createCPanel() (s *sess, answered bool, err error) {
	code, _, b, err := c.do("GET", "whostmgrd", "/json-api/create_user_session?api.version=1&user=alice&service=cpaneld",
		testserver.WHMToken("root", testserver.RootToken), "", nil)
	if err != nil {
		return nil, false, err
	}
	v, err := decodeJSON(b)
	md, _ := v["metadata"].(map[string]any)
	if err != nil || code != 200 || md["result"] != json.Number("1") {
		return nil, true, fmt.Errorf("create_user_session answered %d: %.300s", code, b)
	}
	data, _ := v["data"].(map[string]any)
	tok, _ := data["cp_security_token"].(string)
	secret, _ := data["session"].(string)
	if tok == "" || secret == "" {
		return nil, true, fmt.Errorf("create_user_session data: %.300s", b)
	}
	return &sess{service: "cpaneld", token: tok, secret: secret}, true, nil
}

// login redeems the session's login secret. With loginOnly the refusal
// reason is returned from the JSON answer.
func (c *client) login(s *sess, loginOnly bool) (code int, cookie, reason string, err error) {
	form := url.Values{"session": {s.secret}}
	if loginOnly {
		form.Set("login_only", "1")
	}
	code, h, b, err := c.do("POST", s.service, s.token+"/login/", "", "", form)
	if err != nil {
		return 0, "", "", err
	}
	if code == http.StatusFound || (loginOnly && code == 200) {
		resp := http.Response{Header: h}
		for _, ck := range resp.Cookies() {
			if ck.Name == cookieNames[s.service] && ck.Value != "" {
				cookie = ck.Value
			}
		}
		if cookie == "" {
			return code, "", "", fmt.Errorf("login answered %d without a %s cookie", code, cookieNames[s.service])
		}
		return code, cookie, "", nil
	}
	if loginOnly {
		if v, err := decodeJSON(b); err == nil {
			reason, _ = v["message"].(string)
		}
	} else if bytes.Contains(b, []byte(">invalid_session<")) {
		reason = "invalid_session"
	}
	return code, "", reason, nil
}

// createTempUser calls Session::create_temp_user through the session URL.
func (c *client) createTempUser(s *sess) (name string, answered bool, err error) {
	code, _, b, err := c.do("GET", "cpaneld", s.token+"/execute/Session/create_temp_user", "", s.cookie, nil)
	if err != nil {
		return "", false, err
	}
	v, err := decodeJSON(b)
	if err != nil {
		return "", true, err
	}
	data, _ := v["data"].(map[string]any)
	name, _ = data["session_temp_user"].(string)
	if code != 200 || v["status"] != json.Number("1") || data["created"] != json.Number("1") || !strings.HasPrefix(name, "cpses_al") {
		return "", true, fmt.Errorf("create_temp_user answered %d: %.300s", code, b)
	}
	return name, true, nil
}

// mysqlDSN returns the administrative DSN of the test MariaDB and whether it
// answers. Unreachable is fatal in CI and skips the temporary-user part
// otherwise.
func mysqlDSN(t *testing.T) (string, *sql.DB) {
	t.Helper()
	dsn := os.Getenv("UAPID_TEST_MYSQL_DSN")
	if dsn == "" {
		dsn = "root@tcp(127.0.0.1:3306)/"
	}
	db, err := sql.Open("mysql", dsn)
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = db.PingContext(ctx)
		cancel()
		if err != nil {
			db.Close()
		}
	}
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("MariaDB (UAPID_TEST_MYSQL_DSN %q) is not reachable and CI is set: %v", dsn, err)
		}
		t.Logf("MariaDB (UAPID_TEST_MYSQL_DSN %q) is not reachable, skipping the temporary-user part: %v", dsn, err)
		return "", nil
	}
	t.Cleanup(func() { db.Close() })
	return dsn, db
}

// TestCrashSafety: SIGKILL in the middle of concurrent session creation,
// logins and temporary-user creation loses nothing that was answered and
// lets nothing be replayed:
//
//   - every session whose creation was answered and which was never sent
//     to a login still logs in exactly once after the restart (302, then
//     401 invalid_session);
//   - every login answered 302 before the crash stays consumed (401
//     invalid_session) and its cookie still opens the landing page;
//   - a login whose answer was lost is either done or not, never twice;
//   - the SQLite file passes PRAGMA integrity_check;
//   - with MariaDB: after all sessions are logged out, no temporary user
//     named by create_temp_user, and none still in uapid's ledger, exists
//     in mysql.user (the ledger itself is empty).
func TestCrashSafety(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills a real uapid; skipped with -short")
	}
	dsn, my := mysqlDSN(t)
	bin := buildUapid(t)
	dataDir := filepath.Join(t.TempDir(), "data")
	fx := filepath.Join(t.TempDir(), "fixture.yaml")
	if err := os.WriteFile(fx, []byte(testserver.Fixture), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"--data", dataDir, "--fixture", fx, "--log-level", "warn",
		// The checks below send many refused logins from 127.0.0.1.
		"--bruteforce-allow", "127.0.0.0/8,::1/128"}
	if my != nil {
		args = append(args, "--mysql-dsn", dsn)
	}

	p := startUapid(t, bin, args...)
	c := &client{c: httpClient(t, dataDir), p: p}

	// ---- load, then SIGKILL in the middle of it ----
	var (
		mu       sync.Mutex
		sessions []*sess
		problems []string
		stop     atomic.Bool
		wg       sync.WaitGroup
		counts   struct{ creates, logins, temps, lost atomic.Int64 }
	)
	problem := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		if len(problems) < 20 {
			problems = append(problems, fmt.Sprintf(format, args...))
		}
	}
	add := func(s *sess) {
		mu.Lock()
		sessions = append(sessions, s)
		mu.Unlock()
	}
	worker := func(cpanel bool) {
		defer wg.Done()
		for !stop.Load() {
			var s *sess
			var answered bool
			var err error
			if cpanel {
				s, answered, err = c.createCPanel()
			} else {
				s, answered, err = c.createWebmail()
			}
			if err != nil {
				if answered {
					problem("before the crash: %v", err)
				} else {
					counts.lost.Add(1)
					time.Sleep(5 * time.Millisecond)
				}
				continue
			}
			counts.creates.Add(1)
			add(s)
			if rand.IntN(2) == 0 {
				continue // left unused, to be logged in after the restart
			}
			s.state = unknown
			code, cookie, _, err := c.login(s, false)
			if err != nil {
				counts.lost.Add(1)
				continue
			}
			if code != http.StatusFound {
				problem("before the crash: a fresh %s login answered %d", s.service, code)
				continue
			}
			s.state, s.cookie = loggedIn, cookie
			counts.logins.Add(1)
			if !cpanel || my == nil {
				continue
			}
			name, answered, err := c.createTempUser(s)
			if err != nil {
				if answered {
					problem("before the crash: %v", err)
				} else {
					counts.lost.Add(1)
				}
				continue
			}
			s.tempUser = name
			counts.temps.Add(1)
		}
	}
	for range 5 {
		wg.Add(1)
		go worker(false)
	}
	for range 3 {
		wg.Add(1)
		go worker(true)
	}
	killAfter := 1500*time.Millisecond + rand.N(1000*time.Millisecond)
	time.Sleep(killAfter)
	p.kill()
	time.Sleep(300 * time.Millisecond) // requests keep failing against the dead process
	stop.Store(true)
	wg.Wait()
	c.c.CloseIdleConnections()
	t.Logf("load: SIGKILL after %v; answered before it: %d creates, %d logins, %d temporary users; %d requests got no answer (in flight at the kill, or sent to the dead process)",
		killAfter.Round(time.Millisecond), counts.creates.Load(), counts.logins.Load(), counts.temps.Load(), counts.lost.Load())
	for _, pr := range problems {
		t.Error(pr)
	}
	if t.Failed() {
		t.FailNow()
	}

	// ---- restart on the same data directory ----
	p = startUapid(t, bin, args...)
	c.p = p

	byState := map[int]int{}
	for _, s := range sessions {
		byState[s.state]++
	}
	t.Logf("after restart: %d sessions never sent to a login, %d logged in, %d logins lost in the crash",
		byState[notTried], byState[loggedIn], byState[unknown])
	if byState[notTried] == 0 || byState[loggedIn] == 0 {
		t.Fatalf("the load did not produce both unused and logged-in sessions (%v); nothing to check", byState)
	}

	// refused checks a second (or replayed) login: 401 invalid_session.
	refused := func(s *sess, what string) {
		code, _, reason, err := c.login(s, true)
		if err != nil {
			t.Errorf("%s: %v", what, err)
			return
		}
		if code != http.StatusUnauthorized || reason != "invalid_session" {
			t.Errorf("%s %s session %s: answered %d %q, want 401 invalid_session", what, s.service, s.token, code, reason)
		}
	}
	parallel(sessions, func(s *sess) {
		switch s.state {
		case notTried:
			code, cookie, reason, err := c.login(s, false)
			if err != nil {
				t.Errorf("login of an unused session: %v", err)
				return
			}
			if code != http.StatusFound {
				t.Errorf("unused %s session %s (created before the crash) answered %d %q, want 302", s.service, s.token, code, reason)
				return
			}
			s.cookie = cookie
			refused(s, "second login of a session first used after the restart:")
		case loggedIn:
			refused(s, "login replayed after the crash of a")
			code, _, _, err := c.do("GET", s.service, s.token+"/", "", s.cookie, nil)
			if err != nil || code != http.StatusOK {
				t.Errorf("landing page of %s session %s logged in before the crash: %d %v, want 200", s.service, s.token, code, err)
			}
		case unknown:
			code, cookie, reason, err := c.login(s, true)
			switch {
			case err != nil:
				t.Errorf("login of a session whose login was lost: %v", err)
				return
			case code == 200:
				s.cookie = cookie
			case code == http.StatusUnauthorized && reason == "invalid_session":
			default:
				t.Errorf("%s session %s whose login was lost in the crash answered %d %q, want 200 or 401 invalid_session", s.service, s.token, code, reason)
				return
			}
			refused(s, "second login of a session whose first login was lost:")
		}
	})

	// ---- end every session we hold a cookie for ----
	parallel(sessions, func(s *sess) {
		if s.cookie == "" {
			if s.tempUser != "" {
				t.Errorf("session %s has a temporary user but no cookie", s.token)
			}
			return
		}
		code, _, _, err := c.do("GET", s.service, s.token+"/logout/", "", s.cookie, nil)
		if err != nil || code != http.StatusFound {
			t.Errorf("logout of %s session %s: %d %v, want 302", s.service, s.token, code, err)
			return
		}
		if code, _, _, err := c.do("GET", s.service, s.token+"/", "", s.cookie, nil); err != nil || code != http.StatusUnauthorized {
			t.Errorf("landing page of %s session %s after logout: %d %v, want 401", s.service, s.token, code, err)
		}
	})
	c.c.CloseIdleConnections()
	if code := p.stop(); code != 0 {
		t.Errorf("uapid exited with %d after SIGTERM, want 0:\n%s", code, p.stderr.tail(4000))
	}

	// ---- the store ----
	dbPath := filepath.Join(dataDir, "uapid.db")
	if _, err := os.Stat(dbPath); err != nil {
		t.Fatalf("the store is not where it should be: %v", err)
	}
	db, err := sqlstore.OpenSQLiteSQL(dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var migrations int
	if err := db.QueryRow("SELECT COUNT(*) FROM schema_migrations").Scan(&migrations); err != nil || migrations == 0 {
		t.Fatalf("the store has %d applied migrations (%v); wrong file?", migrations, err)
	}
	rows, err := db.Query("PRAGMA integrity_check")
	if err != nil {
		t.Fatal(err)
	}
	var integrity []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		integrity = append(integrity, s)
	}
	rows.Close()
	if len(integrity) != 1 || integrity[0] != "ok" {
		t.Errorf("PRAGMA integrity_check = %q, want ok", integrity)
	}

	if my == nil {
		return
	}
	// ---- temporary database users ----
	var ledger []string
	rows, err = db.Query("SELECT name FROM temp_users")
	if err != nil {
		t.Fatalf("read the temporary-user ledger: %v", err)
	}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		ledger = append(ledger, n)
	}
	rows.Close()
	if len(ledger) != 0 {
		t.Errorf("the ledger still records %d temporary users after every session ended: %q", len(ledger), ledger)
	}
	names := append([]string(nil), ledger...)
	for _, s := range sessions {
		if s.tempUser != "" {
			names = append(names, s.tempUser)
		}
	}
	if counts.temps.Load() == 0 {
		t.Fatalf("no temporary user was created before the crash; nothing to check")
	}
	leaked := 0
	for _, n := range names {
		var k int
		if err := my.QueryRow("SELECT COUNT(*) FROM mysql.user WHERE User = ?", n).Scan(&k); err != nil {
			t.Fatal(err)
		}
		if k > 0 {
			leaked++
			t.Errorf("temporary user %s still exists in mysql.user after its session ended", n)
		}
	}
	t.Logf("temporary users: %d named by create_temp_user, %d left in the ledger, %d leaked", len(names)-len(ledger), len(ledger), leaked)
}

// parallel runs f over the sessions with a few workers.
func parallel(sessions []*sess, f func(*sess)) {
	ch := make(chan *sess)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for s := range ch {
				f(s)
			}
		})
	}
	for _, s := range sessions {
		ch <- s
	}
	close(ch)
	wg.Wait()
}
