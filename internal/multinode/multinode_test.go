package multinode

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/uapid/uapid/internal/testserver"
)

// TestTwoNodes runs the request-level scenarios on two in-process nodes
// sharing each kind of store.
func TestTwoNodes(t *testing.T) {
	t.Parallel()
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			t.Parallel()
			c := newCluster(t, v, "--metrics-addr", "127.0.0.1:0")
			a, b := c.start(t, "A", ""), c.start(t, "B", "")
			cl := client(a, b)

			t.Run("Readyz", func(t *testing.T) {
				for _, n := range []*node{a, b} {
					r := do(t, http.DefaultClient, "GET", "http://"+n.addrs["metrics-plain"]+"/readyz", "", nil)
					if r.StatusCode != 200 || string(r.body) != "ok\n" {
						t.Fatalf("/readyz on %s: HTTP %d: %s", n.name, r.StatusCode, r.body)
					}
				}
			})

			t.Run("CreateOnALoginOnB", func(t *testing.T) {
				s := mustCreateWebmail(t, cl, a)
				r := login(t, client(a, b), b, s)
				if r.StatusCode != http.StatusFound || r.Header.Get("Location") != s.token+"/" {
					t.Fatalf("login on B: HTTP %d Location %q: %s", r.StatusCode, r.Header.Get("Location"), r.body)
				}
				// Used up, on either node.
				for _, n := range []*node{a, b} {
					r := login(t, client(a, b), n, s, "login_only", "1")
					if r.StatusCode != http.StatusUnauthorized || !strings.Contains(string(r.body), "invalid_session") {
						t.Fatalf("second login on %s: HTTP %d: %s", n.name, r.StatusCode, r.body)
					}
				}
			})

			t.Run("ConcurrentLoginsAcrossNodes", func(t *testing.T) {
				s := mustCreateWebmail(t, cl, a)
				var wg sync.WaitGroup
				var mu sync.Mutex
				codes := map[string]int{}
				start := make(chan struct{})
				for i := range 50 {
					n := []*node{a, b}[i%2]
					wg.Go(func() {
						<-start
						r, err := send(client(a, b), "POST", n.url("webmaild", s.token+"/login/"), "",
							url.Values{"session": {s.session}, "login_only": {"1"}})
						mu.Lock()
						defer mu.Unlock()
						if err != nil {
							codes["error: "+err.Error()]++
							return
						}
						codes[fmt.Sprintf("%s %d", n.name, r.StatusCode)]++
						codes[fmt.Sprint(r.StatusCode)]++
					})
				}
				close(start)
				wg.Wait()
				if codes["200"] != 1 || codes["401"] != 49 {
					t.Fatalf("answers %v, want exactly one 200 and 49 401", codes)
				}
				if codes["A 200"]+codes["A 401"] != 25 || codes["B 200"]+codes["B 401"] != 25 {
					t.Fatalf("answers %v, want 25 per node", codes)
				}
			})

			t.Run("LogoutOnBEndsSessionOnA", func(t *testing.T) {
				s := mustCreateWebmail(t, cl, a)
				browser := client(a, b)
				if r := login(t, browser, a, s); r.StatusCode != http.StatusFound {
					t.Fatalf("login on A: HTTP %d: %s", r.StatusCode, r.body)
				}
				for _, n := range []*node{a, b} {
					r := do(t, browser, "GET", n.url("webmaild", s.token+"/"), "", nil)
					if r.StatusCode != 200 || !strings.Contains(string(r.body), "info@alice.test") {
						t.Fatalf("landing page on %s with A's cookie: HTTP %d: %s", n.name, r.StatusCode, r.body)
					}
				}
				u, _ := url.Parse(a.url("webmaild", "/"))
				cookies := browser.Jar.Cookies(u) // kept by a careless client
				r := do(t, browser, "POST", b.url("webmaild", s.token+"/logout/"), "", nil)
				if r.StatusCode != http.StatusFound || r.Header.Get("Location") != "/" {
					t.Fatalf("logout on B: HTTP %d: %s", r.StatusCode, r.body)
				}
				if sc := r.Header.Get("Set-Cookie"); !strings.HasPrefix(sc, "webmailsession=") || !strings.Contains(sc, "Max-Age=0") {
					t.Fatalf("logout on B: Set-Cookie %q", sc)
				}
				kept := client(a, b)
				kept.Jar.SetCookies(u, cookies)
				for _, n := range []*node{a, b} {
					if r := do(t, kept, "GET", n.url("webmaild", s.token+"/"), "", nil); r.StatusCode != http.StatusUnauthorized {
						t.Fatalf("%s still serves the session after the logout on B: HTTP %d", n.name, r.StatusCode)
					}
				}
			})

			t.Run("PasswordLoginOnBUsedOnA", func(t *testing.T) {
				browser := client(a, b)
				r := do(t, browser, "POST", b.url("cpaneld", "/login/?login_only=1"), "",
					url.Values{"user": {"alice"}, "pass": {testserver.AlicePassword}})
				if r.StatusCode != 200 {
					t.Fatalf("password login on B: HTTP %d: %s", r.StatusCode, r.body)
				}
				tok, _ := r.json(t)["security_token"].(string)
				for _, n := range []*node{a, b, a} {
					if r := do(t, browser, "GET", n.url("cpaneld", tok+"/"), "", nil); r.StatusCode != 200 {
						t.Fatalf("landing page on %s: HTTP %d: %s", n.name, r.StatusCode, r.body)
					}
				}
			})
		})
	}
}

func randLower(n int) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, n)
	for i := range b {
		k, _ := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
		b[i] = alphabet[k.Int64()]
	}
	return string(b)
}

// TestTempUserDroppedThroughOtherNode: a temporary MariaDB user created
// through node A is dropped when its session is logged out through node B
// (at once when the ledger is shared; by A's sweeper, within seconds, when
// each node keeps its ledger in its own SQLite file).
func TestTempUserDroppedThroughOtherNode(t *testing.T) {
	t.Parallel()
	my := needMySQL(t)
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			t.Parallel()
			acct := "m" + randLower(7)
			rootPass := testserver.RootPassword
			if _, err := my.Exec("CREATE DATABASE `" + acct + "_wp`"); err != nil {
				t.Fatal(err)
			}
			var tempUser string
			t.Cleanup(func() {
				if tempUser != "" {
					my.Exec("DROP USER IF EXISTS '" + tempUser + "'@'localhost'")
				}
				my.Exec("DROP DATABASE IF EXISTS `" + acct + "_wp`")
			})
			extra := fmt.Sprintf("  - user: %s\n    password: \"P-%s\"\n    domains: [%s.test]\n    databases: [%s_wp]\n", acct, randLower(10), acct, acct)
			c := newCluster(t, v, "--mysql-dsn", mysqlDSN())
			a, b := c.start(t, "A", extra), c.start(t, "B", extra)
			browser := client(a, b)

			// WHM create_user_session on A, followed as a browser would.
			q := url.Values{"api.version": {"1"}, "user": {acct}, "service": {"cpaneld"}}
			r := do(t, browser, "GET", a.url("whostmgrd", "/json-api/create_user_session?"+q.Encode()), testserver.Basic("root", rootPass), nil)
			var created struct {
				Data struct {
					Token string `json:"cp_security_token"`
					URL   string `json:"url"`
				} `json:"data"`
			}
			if err := json.Unmarshal(r.body, &created); err != nil || created.Data.URL == "" {
				t.Fatalf("create_user_session: HTTP %d: %s", r.StatusCode, r.body)
			}
			u, _ := url.Parse(created.Data.URL)
			u.Host = a.addrs["cpaneld"]
			if r := do(t, browser, "GET", u.String(), "", nil); r.StatusCode != http.StatusFound {
				t.Fatalf("login on A: HTTP %d: %s", r.StatusCode, r.body)
			}
			tok := created.Data.Token
			r = do(t, browser, "GET", a.url("cpaneld", tok+"/execute/Session/create_temp_user"), "", nil)
			var v1 struct {
				Status int
				Data   struct {
					Created int    `json:"created"`
					Name    string `json:"session_temp_user"`
				}
			}
			if err := json.Unmarshal(r.body, &v1); err != nil || v1.Status != 1 || v1.Data.Created != 1 {
				t.Fatalf("create_temp_user on A: %s", r.body)
			}
			tempUser = v1.Data.Name
			if !mysqlUserExists(t, my, tempUser) {
				t.Fatalf("temporary user %s not on MariaDB after create_temp_user", tempUser)
			}
			// The session is the same on B: the user exists already there.
			r = do(t, browser, "GET", b.url("cpaneld", tok+"/execute/Session/create_temp_user"), "", nil)
			if !strings.Contains(string(r.body), `"created":0`) {
				t.Fatalf("create_temp_user again, on B: %s", r.body)
			}

			r = do(t, browser, "POST", b.url("cpaneld", tok+"/logout/"), "", nil)
			if r.StatusCode != http.StatusFound {
				t.Fatalf("logout on B: HTTP %d: %s", r.StatusCode, r.body)
			}
			if v.sharedLedger {
				if mysqlUserExists(t, my, tempUser) {
					t.Fatalf("temporary user %s still on MariaDB after the logout on B", tempUser)
				}
				return
			}
			deadline := time.Now().Add(15 * time.Second)
			for mysqlUserExists(t, my, tempUser) {
				if time.Now().After(deadline) {
					t.Fatalf("temporary user %s not dropped by A's sweeper 15s after the logout on B", tempUser)
				}
				time.Sleep(200 * time.Millisecond)
			}
		})
	}
}

// TestKillNodeMidLoad creates sessions against two uapid processes at once,
// kills node A with SIGKILL in the middle, and checks on node B that every
// session whose creation was answered (by A before it died, or by B) logs
// in. The two processes also start together on an empty store.
func TestKillNodeMidLoad(t *testing.T) {
	t.Parallel()
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			t.Parallel()
			c := newCluster(t, v)
			nodes := c.startProcs(t, "A", "B")
			a, b := nodes[0], nodes[1]
			cl := client(a, b)
			cl.Timeout = 5 * time.Second

			var (
				mu       sync.Mutex
				acked    = map[string][]webmailSession{}
				failedA  atomic.Int64
				killed   atomic.Bool
				afterB   atomic.Int64
				stop     = make(chan struct{})
				killNow  = make(chan struct{})
				killOnce sync.Once
				wg       sync.WaitGroup
			)
			for w := range 8 {
				wg.Go(func() {
					for i := 0; ; i++ {
						select {
						case <-stop:
							return
						default:
						}
						n := []*node{a, b}[(w+i)%2]
						s, err := createWebmail(cl, n)
						if err != nil {
							if n == a {
								failedA.Add(1)
							}
							continue
						}
						mu.Lock()
						acked[n.name] = append(acked[n.name], s)
						nA := len(acked["A"])
						mu.Unlock()
						if n == a && nA >= 60 {
							killOnce.Do(func() { close(killNow) })
						}
						if n == b && killed.Load() {
							afterB.Add(1)
						}
					}
				})
			}
			select {
			case <-killNow:
			case <-time.After(60 * time.Second):
				close(stop)
				wg.Wait()
				t.Fatalf("node A acknowledged only %d sessions in 60s", len(acked["A"]))
			}
			kill(t, a)
			killed.Store(true)
			deadline := time.Now().Add(30 * time.Second)
			for afterB.Load() < 60 && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
			close(stop)
			wg.Wait()
			if failedA.Load() == 0 {
				t.Fatalf("no request to A failed: it was not killed mid-load")
			}
			if afterB.Load() < 60 {
				t.Fatalf("B acknowledged only %d sessions after A was killed", afterB.Load())
			}

			// Every acknowledged session logs in on B, exactly once.
			all := append(append([]webmailSession{}, acked["A"]...), acked["B"]...)
			t.Logf("acknowledged: %d by A (then killed; %d requests to it failed), %d by B", len(acked["A"]), failedA.Load(), len(acked["B"]))
			var lost atomic.Int64
			var lw sync.WaitGroup
			sem := make(chan struct{}, 8)
			lcl := client(b)
			for _, s := range all {
				sem <- struct{}{}
				lw.Go(func() {
					defer func() { <-sem }()
					r, err := send(lcl, "POST", b.url("webmaild", s.token+"/login/"), "", url.Values{"session": {s.session}, "login_only": {"1"}})
					if err != nil || r.StatusCode != 200 {
						lost.Add(1)
						if err == nil {
							t.Errorf("acknowledged session %s… does not log in on B: HTTP %d: %s", s.session[:20], r.StatusCode, r.body)
						} else {
							t.Errorf("login on B: %v", err)
						}
					}
				})
			}
			lw.Wait()
			if lost.Load() > 0 {
				t.Fatalf("%d of %d acknowledged sessions lost", lost.Load(), len(all))
			}
		})
	}
}

// TestStartTogether starts three processes at the same moment on one empty
// PostgreSQL database: all come up, each migration step is recorded once,
// and the fixture (applied by all three) is there once.
func TestStartTogether(t *testing.T) {
	t.Parallel()
	v := variants[0]
	c := newCluster(t, v)
	nodes := c.startProcs(t, "A", "B", "C")
	cl := client(nodes...)
	for _, n := range nodes {
		r := do(t, cl, "GET", n.url("cpaneld", "/execute/Session/create_webmail_session_for_self"), aliceToken, nil)
		if r.StatusCode != 200 || !strings.Contains(string(r.body), `"status":1`) {
			t.Fatalf("node %s: HTTP %d: %s", n.name, r.StatusCode, r.body)
		}
	}
	dsn := c.flag("--store")
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var steps, distinct, accounts, domains int
	if err := conn.QueryRow(ctx, `SELECT count(*), count(DISTINCT (component, version)) FROM uapid_schema_migrations`).Scan(&steps, &distinct); err != nil {
		t.Fatal(err)
	}
	if steps != distinct || steps == 0 {
		t.Errorf("%d migration rows for %d steps", steps, distinct)
	}
	if err := conn.QueryRow(ctx, `SELECT (SELECT count(*) FROM directory_accounts), (SELECT count(*) FROM directory_domains)`).Scan(&accounts, &domains); err != nil {
		t.Fatal(err)
	}
	if accounts != 5 || domains != 6 {
		t.Errorf("%d accounts and %d domains after three concurrent fixture loads, want 5 and 6", accounts, domains)
	}
}
