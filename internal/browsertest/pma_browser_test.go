package browsertest

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/uapid/uapid/internal/session"
	"github.com/uapid/uapid/internal/store"
	"github.com/uapid/uapid/internal/store/sqlstore"
	"github.com/uapid/uapid/internal/testserver"
)

// phpMyAdminCopy is where a copy of the screenshot of phpMyAdmin's
// database list goes, for a human to look at.
const phpMyAdminCopy = "/tmp/uapid-phpmyadmin.png"

// TestBrowserPhpMyAdmin walks Chromium through the phpMyAdmin sign-on
// (docs/phpmyadmin.md): WHM create_user_session for alice, the URL logs
// in, the landing page's phpMyAdmin link opens the real phpMyAdmin signed
// on as the session's temporary user, which shows alice's databases and
// none of bob's. phpMyAdmin's own logout ends only phpMyAdmin; after
// uapid's logout the next phpMyAdmin request is refused and the cpses_
// user is gone from MariaDB. Neither the account's password nor the
// temporary user's appears in anything the browser sends or receives.
func TestBrowserPhpMyAdmin(t *testing.T) {
	exe := chromiumPath(t)
	e := startPhpMyAdmin(t)
	ctx, nav := startBrowser(t, exe, e.srv)
	seen := watchTraffic(t, ctx)
	cpanel := func(path string) string { return e.srv.URL("cpaneld", path) }

	// 1. A billing system asks WHM for alice's login URL; the browser
	// opens it and lands on cPanel's landing page.
	mustDo(t, ctx, "open the login URL",
		chromedp.Navigate(e.loginURL(t, "alice")),
		chromedp.WaitVisible(chromedp.ID("user")),
	)
	if user := mustRun(t, ctx, "read #user", chromedp.Text(chromedp.ID("user"))); user != "alice" {
		t.Fatalf("landing page #user = %q, want alice", user)
	}
	landing := mustRun(t, ctx, "read the location", chromedp.Location())
	token := strings.TrimSuffix(strings.TrimPrefix(landing, cpanel("")), "/")
	if !regexp.MustCompile(`^/cpsess[0-9]{10}$`).MatchString(token) {
		t.Fatalf("the landing page is at %q", landing)
	}

	// 2. Its phpMyAdmin link: a one-time ticket, redeemed by the sign-on
	// script, whose page moves on to phpMyAdmin without the ticket in its
	// address.
	mark := nav.mark()
	mustDo(t, ctx, "follow the phpMyAdmin link",
		chromedp.Click(chromedp.ID("phpmyadmin")),
		chromedp.WaitReady(chromedp.CSS("a.logout")),
	)
	hops := nav.since(mark)
	ticketHop := regexp.MustCompile(`^` + regexp.QuoteMeta(e.pma.URL) + `index\.php\?uapid_signon=[0-9a-f]{32}$`)
	if len(hops) != 3 ||
		hops[0] != (hop{"GET", cpanel(token + "/3rdparty/phpMyAdmin/"), 302, hops[1].URL}) ||
		!ticketHop.MatchString(hops[1].URL) || hops[1].Status != 200 ||
		hops[2] != (hop{"GET", e.pma.URL + "index.php", 200, ""}) {
		t.Fatalf("the phpMyAdmin link's hops:\n  %s", joinHops(hops))
	}

	// 3. phpMyAdmin shows alice's databases and none of bob's.
	mustDo(t, ctx, "open phpMyAdmin's database list",
		chromedp.Navigate(e.pma.URL+"index.php?route=/server/databases"),
		chromedp.WaitVisible(chromedp.ID("dbStatsForm")),
	)
	page := mustRun(t, ctx, "read the page", chromedp.OuterHTML(chromedp.CSS("html")))
	if dbs := databaseNames(page); !slices.Equal(dbs, aliceDBs) {
		t.Fatalf("phpMyAdmin lists the databases %q, want %q", dbs, aliceDBs)
	}
	list := mustRun(t, ctx, "read the database list", chromedp.Text(chromedp.ID("dbStatsForm")))
	if !strings.Contains(list, "alice_wp") || strings.Contains(page, "bob_db") {
		t.Fatalf("phpMyAdmin's database list:\n%s", list)
	}
	shot := mustRun(t, ctx, "take a screenshot", chromedp.FullScreenshot(100))
	checkPNG(t, shot)
	if err := os.WriteFile(phpMyAdminCopy, shot, 0o644); err != nil {
		t.Logf("could not save a copy of the screenshot: %v", err)
	} else {
		t.Logf("phpMyAdmin screenshot: %s (%d bytes)", phpMyAdminCopy, len(shot))
	}
	rec := aliceSession(t, e)
	name, pass := rec.TempUser, rec.TempPass
	if !e.userExists(t, name) || !strings.HasPrefix(name, "cpses_al") {
		t.Fatalf("phpMyAdmin is signed on, but the temporary user %s does not exist", name)
	}

	// 4. phpMyAdmin's own logout ends phpMyAdmin's sign-on, nothing else.
	mustDo(t, ctx, "log out of phpMyAdmin",
		chromedp.Click(chromedp.CSS("a.logout")),
		chromedp.WaitVisible(chromedp.ID("reason")),
	)
	if r := reason(t, ctx); r != "logged_out" {
		t.Fatalf("after phpMyAdmin's logout the sign-on page says %q, want logged_out", r)
	}
	if !e.userExists(t, name) {
		t.Fatal("phpMyAdmin's logout dropped the temporary user")
	}
	mustDo(t, ctx, "open the landing page again",
		chromedp.Navigate(landing),
		chromedp.WaitVisible(chromedp.ID("user")),
	)
	mustDo(t, ctx, "open phpMyAdmin again",
		chromedp.Click(chromedp.ID("phpmyadmin")),
		chromedp.WaitReady(chromedp.CSS("a.logout")),
	)
	if again := aliceSession(t, e); again.TempUser != name {
		t.Fatalf("reopening phpMyAdmin gave another temporary user %s (was %s)", again.TempUser, name)
	}

	// 5. uapid's logout, in another tab; phpMyAdmin's next request (a
	// link followed in its own tab) is refused, and the cpses_ user is
	// gone.
	tab, closeTab := chromedp.NewContext(ctx)
	defer closeTab()
	seenTab := watchTraffic(t, tab)
	mustDo(t, tab, "log out of cPanel in another tab",
		chromedp.Navigate(landing),
		chromedp.WaitVisible(chromedp.ID("logout")),
		chromedp.Click(chromedp.ID("logout")),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/login/"] input[name="pass"]`)),
	)
	mark = nav.mark()
	mustRun(t, ctx, "follow a link in phpMyAdmin after the logout",
		chromedp.Evaluate[bool](`location.assign("index.php?route=/server/databases"); true`))
	mustDo(t, ctx, "wait for the sign-on page", chromedp.WaitVisible(chromedp.ID("reason")))
	nav.expect(t, mark,
		hop{"GET", e.pma.URL + "index.php?route=/server/databases", 302, "/uapid-signon.php?uapid_error=ended"},
		hop{"GET", e.pma.URL + "uapid-signon.php?uapid_error=ended", 200, ""},
	)
	if r := reason(t, ctx); r != "ended" {
		t.Fatalf("after uapid's logout the sign-on page says %q, want ended", r)
	}
	if e.userExists(t, name) {
		t.Fatalf("after uapid's logout the temporary user %s still exists in MariaDB", name)
	}
	if err := e.mysqlLogin(name, pass); err == nil {
		t.Fatal("after uapid's logout the temporary user's credentials still connect to MariaDB")
	}

	// 6. Nothing the browser saw carries a password.
	secrets := map[string]string{
		"the account's password":        testserver.AlicePassword,
		"the temporary user's password": pass,
		"the sign-on script's secret":   pmaSecret,
		"the sign-on script's handle":   session.SignOnHandle(rec),
	}
	// Documents, scripts and phpMyAdmin's XHR answers: dozens.
	seen.check(t, secrets, 20)
	// The landing page and the login form.
	seenTab.check(t, secrets, 2)
}

// aliceSession reads alice's logged-in cPanel session from the store.
func aliceSession(t testing.TB, e *pmaEnv) store.Session {
	t.Helper()
	db, err := sqlstore.OpenSQLiteSQL(filepath.Join(e.srv.DataDir, "uapid.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var r store.Session
	if err := db.QueryRow(`SELECT id, temp_user, temp_pass FROM sessions WHERE user_name = 'alice' AND service = 'cpaneld' AND temp_created = 1`).
		Scan(&r.ID, &r.TempUser, &r.TempPass); err != nil {
		t.Fatalf("alice's cPanel session in the store: %v", err)
	}
	return r
}

// reason reads what the sign-on page says (its data-reason).
func reason(t *testing.T, ctx context.Context) string {
	t.Helper()
	return mustRun(t, ctx, "read #reason", chromedp.AttributeValue(chromedp.ID("reason"), "data-reason")).Value
}

// since returns the hops after mark.
func (n *navLog) since(mark int) []hop {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]hop(nil), n.hops[mark:]...)
}

// traffic is everything the browser sent and received: URLs, headers
// (the raw ones too, cookies included), request bodies and response
// bodies.
type traffic struct {
	mu     sync.Mutex
	texts  []string
	wg     sync.WaitGroup
	bodies int
}

func (tr *traffic) add(parts ...string) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.texts = append(tr.texts, strings.Join(parts, "\n"))
}

func headerText(h network.Headers) string {
	b, _ := json.Marshal(h)
	return string(b)
}

// watchTraffic records the browser's traffic from now on.
func watchTraffic(t *testing.T, ctx context.Context) *traffic {
	t.Helper()
	tr := &traffic{}
	err := chromedp.Listen(ctx, func(ev any) {
		switch ev := ev.(type) {
		case *network.EventRequestWillBeSent:
			parts := []string{ev.Request.URL, headerText(ev.Request.Headers)}
			for _, p := range ev.Request.PostDataEntries {
				parts = append(parts, string(p.Bytes))
			}
			if r := ev.RedirectResponse; r != nil {
				parts = append(parts, r.URL, headerText(r.Headers))
			}
			tr.add(parts...)
		case *network.EventRequestWillBeSentExtraInfo:
			tr.add(headerText(ev.Headers))
		case *network.EventResponseReceived:
			tr.add(ev.Response.URL, headerText(ev.Response.Headers))
		case *network.EventResponseReceivedExtraInfo:
			tr.add(headerText(ev.Headers), ev.HeadersText)
		case *network.EventLoadingFinished:
			// Fetching the body is a command: not from the listener.
			tr.wg.Go(func() {
				res, err := chromedp.Run(ctx, chromedp.Action[network.GetResponseBodyResult](
					func(ctx context.Context, tg *chromedp.Target) (network.GetResponseBodyResult, error) {
						return cdp.Call(ctx, tg, network.GetResponseBody, network.GetResponseBodyParams{RequestID: ev.RequestID})
					}))
				if err == nil {
					tr.add(string(res.Body))
					tr.mu.Lock()
					tr.bodies++
					tr.mu.Unlock()
				}
			})
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// check fails the test when any secret appears in the traffic, or when
// the recorder read fewer than bodies response bodies (a recorder that
// read nothing would prove nothing).
func (tr *traffic) check(t *testing.T, secrets map[string]string, bodies int) {
	t.Helper()
	tr.wg.Wait()
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if tr.bodies < bodies {
		t.Fatalf("the traffic recorder saw only %d bodies in %d records", tr.bodies, len(tr.texts))
	}
	for what, s := range secrets {
		if s == "" {
			t.Fatalf("the secret %q to look for is empty", what)
		}
		for _, text := range tr.texts {
			if strings.Contains(text, s) {
				t.Errorf("the browser saw %s in:\n%.300s", what, text)
				break
			}
		}
	}
}
