package browsertest

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/uapid/uapid/internal/mailstack"
	"github.com/uapid/uapid/internal/mailstack/stacktest"
	"github.com/uapid/uapid/internal/testserver"
)

// inboxCopy is where a copy of the inbox screenshot goes, for a human.
const inboxCopy = "/tmp/uapid-roundcube-inbox.png"

// TestBrowserWebmailRoundcube walks a real browser from a portal's
// one-time Webmail session into a real inbox: uapid's login, Roundcube's
// OAuth login against uapid (no prompt), Roundcube reading the mailbox from
// Dovecot, which asks uapid about the token. Then: the session string does
// not work twice; logging out in Roundcube ends the uapid session (no code
// for its cookie any more, its token inactive); and suspending the
// mailbox's login makes the next Roundcube request end on Roundcube's
// login page with its session error instead of the inbox.
func TestBrowserWebmailRoundcube(t *testing.T) {
	exe := chromiumPath(t)
	s := stacktest.Start(t, stacktest.Options{Roundcube: true})
	srv, rc := s.Srv, s.Roundcube
	webmail := func(path string) string { return srv.URL("webmaild", path) }
	rcURL := func(q string) string { return strings.TrimSuffix(rc.URL, "/") + "/" + q }

	// A message for the mailbox, delivered through Dovecot beforehand.
	subject := "Your invoice " + time.Now().Format("150405.000")
	ctx0, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := mailstack.Deliver(ctx0, s.Dovecot.LMTPAddr, "billing@example.test", mailbox,
		[]byte("From: Billing <billing@example.test>\r\nTo: "+mailbox+"\r\nSubject: "+subject+"\r\n\r\nThank you.\r\n")); err != nil {
		t.Fatalf("deliver: %v", err)
	}

	portal := newPortal(t)
	portalURL := func(path string) string { return portal.srv.URL + path }
	token1, sess1 := createSession(t, srv)
	portal.add("/mail", handoff{Action: webmail(token1 + "/login/"), Session: sess1})
	ctx, nav := startBrowser(t, exe, srv)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("uapid stderr:\n%s", lastLines(srv.Stderr.String(), 40))
		}
	})

	// 1. The portal page posts the session: uapid logs in and sends the
	// browser to Roundcube, which gets a code from uapid and shows the
	// inbox. No page asks anything on the way.
	mark := nav.mark()
	mustDo(t, ctx, "open Webmail through the portal",
		chromedp.Navigate(portalURL("/mail")),
		chromedp.WaitVisible(chromedp.CSS(`#messagelist tbody tr`)),
	)
	wantHops(t, nav, mark, []hopPattern{
		{"GET", portalURL("/mail"), 200, ""},
		{"POST", webmail(token1 + "/login/"), 302, rc.URL},
		{"GET", rc.URL, 302, webmail("/oauth2/authorize?")},
		{"GET", webmail("/oauth2/authorize?"), 302, rc.RedirectURI + "?code=uapid_ac_"},
		{"GET", rc.RedirectURI + "?code=", 302, ""},
		{"GET", rcURL("?_task=mail"), 200, ""},
	})
	waitText(t, ctx, "#messagelist", subject)
	if user := mustRun(t, ctx, "read the user name", chromedp.TextContent(chromedp.CSS(`.header-title.username`))); !strings.Contains(user, mailbox) {
		t.Errorf("Roundcube shows the user %q, want %s", user, mailbox)
	}
	shot := mustRun(t, ctx, "take a screenshot", chromedp.FullScreenshot(100))
	checkPNG(t, shot)
	if err := os.WriteFile(inboxCopy, shot, 0o644); err == nil {
		t.Logf("Roundcube inbox screenshot: %s (%d bytes)", inboxCopy, len(shot))
	}
	tokens := s.AccessTokens()
	if len(tokens) != 1 {
		t.Fatalf("uapid issued %d access tokens to Roundcube, want 1", len(tokens))
	}
	old := tokens[0]
	if v := introspect(t, s, old); v != "active" {
		t.Fatalf("Roundcube's token introspects %s", v)
	}

	// 2. The same session string again: refused.
	mark = nav.mark()
	mustDo(t, ctx, "replay the session through the portal",
		chromedp.Navigate(portalURL("/mail")),
		chromedp.WaitVisible(chromedp.CSS(`#code`)),
	)
	wantHops(t, nav, mark, []hopPattern{
		{"GET", portalURL("/mail"), 200, ""},
		{"POST", webmail(token1 + "/login/"), 401, ""},
	})
	if code := mustRun(t, ctx, "read #code", chromedp.Text(chromedp.CSS(`#code`))); code != "invalid_session" {
		t.Errorf("replay: #code = %q, want invalid_session", code)
	}

	// 3. Back in Roundcube, log out: the plugin revokes the token, which
	// ends the uapid session, and returns the browser to uapid.
	mustDo(t, ctx, "back to the inbox",
		chromedp.Navigate(rcURL("?_task=mail")),
		chromedp.WaitVisible(chromedp.CSS(`#messagelist tbody tr`)),
	)
	mark = nav.mark()
	mustDo(t, ctx, "log out in Roundcube",
		chromedp.Click(chromedp.CSS(`#taskmenu a.logout`)),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/login/"] input[name="pass"]`)),
	)
	wantHops(t, nav, mark, []hopPattern{
		{"GET", rcURL("?_task=logout"), 302, webmail("/")},
		{"GET", webmail("/"), 302, "/login/"},
		{"GET", webmail("/login/"), 200, ""},
	})
	if v := introspect(t, s, old); v != "inactive" {
		t.Errorf("after the Roundcube logout the old token introspects %s", v)
	}
	// The browser's uapid cookie no longer gets a code.
	q := url.Values{"response_type": {"code"}, "client_id": {stacktest.ClientID}, "redirect_uri": {rc.RedirectURI}, "state": {"x"}}
	mark = nav.mark()
	mustDo(t, ctx, "ask uapid for a code after the logout",
		chromedp.Navigate(webmail("/oauth2/authorize?"+q.Encode())),
		chromedp.WaitVisible(chromedp.CSS(`#code`)),
	)
	wantHops(t, nav, mark, []hopPattern{{"GET", webmail("/oauth2/authorize?"), 401, ""}})
	if code := mustRun(t, ctx, "read #code", chromedp.Text(chromedp.CSS(`#code`))); code != "login_required" {
		t.Errorf("authorize after logout: #code = %q, want login_required", code)
	}

	// 4. A new session; then the mailbox's login is suspended: the next
	// Roundcube request fails, and Roundcube shows its login page with
	// the session error, not the inbox.
	token2, sess2 := createSession(t, srv)
	portal.add("/mail2", handoff{Action: webmail(token2 + "/login/"), Session: sess2})
	mustDo(t, ctx, "open Webmail with a new session",
		chromedp.Navigate(portalURL("/mail2")),
		chromedp.WaitVisible(chromedp.CSS(`#messagelist tbody tr`)),
	)
	waitText(t, ctx, "#messagelist", subject)
	r := srv.Get("cpaneld", "/execute/Email/suspend_login?email="+url.QueryEscape(mailbox),
		testserver.CPanelToken("alice", testserver.AliceToken))
	if r.StatusCode != http.StatusOK || !strings.Contains(string(r.Body), `"status":1`) {
		t.Fatalf("suspend_login: HTTP %d %s", r.StatusCode, r.Body)
	}
	mark = nav.mark()
	mustDo(t, ctx, "reload Roundcube after the suspension",
		chromedp.Navigate(rcURL("?_task=mail")),
		chromedp.WaitVisible(chromedp.CSS(`#rcmloginoauth`)),
	)
	// Either the page itself fails to read the mailbox (the plugin
	// redirects), or it loads and its first mailbox request fails (the
	// plugin has Roundcube's client go to the login page); both end on
	// the login page with the session error.
	ended := rcURL("?_task=login&_err=session&_uapid=ended")
	hops := waitHop(t, nav, mark, ended)
	if first := hops[0]; first.Method != "GET" || first.URL != rcURL("?_task=mail") ||
		!(first.Status == 200 || first.Status == 302 && strings.HasPrefix(first.Location, "/?_task=login&_err=session&_uapid=ended")) {
		t.Errorf("after the suspension: %s", joinHops(hops))
	}
	if last := hops[len(hops)-1]; last.Status != 200 {
		t.Errorf("after the suspension: %s", joinHops(hops))
	}
	if loc := mustRun(t, ctx, "read the location", chromedp.Location()); loc != ended {
		t.Errorf("after the suspension the browser is at %s, want %s", loc, ended)
	}
	waitText(t, ctx, "#messagestack", "session")
	// No secret of the flow in uapid's or Dovecot's logs.
	dovecotLog, _ := os.ReadFile(filepath.Join(s.Dovecot.Dir, "dovecot.log"))
	for _, sec := range append(s.AccessTokens(), s.Wiring.ClientSecret, s.Wiring.ResourceSecret, sess1, sess2) {
		for name, out := range map[string]string{"uapid's log": srv.Stderr.String() + srv.Stdout.String(), "Dovecot's log": string(dovecotLog)} {
			if strings.Contains(out, sec) {
				t.Errorf("%s contains the secret %.12s…", name, sec)
			}
		}
	}
	if lists := mustRun(t, ctx, "look for a message list", chromedp.Evaluate[int](`document.querySelectorAll("#messagelist").length`)); lists != 0 {
		t.Error("the page after the suspension shows a message list")
	}
}

// hopPattern is a hop whose URL and Location are matched by prefix
// (codes, states and tokens vary).
type hopPattern struct {
	Method, URLPrefix string
	Status            int64
	LocationPrefix    string
}

func wantHops(t *testing.T, nav *navLog, mark int, want []hopPattern) {
	t.Helper()
	nav.mu.Lock()
	var got []hop
	for _, h := range nav.hops[mark:] {
		// Roundcube's empty preview frame is a document of its own.
		if !strings.HasSuffix(h.URL, "/skins/elastic/watermark.html") {
			got = append(got, h)
		}
	}
	nav.mu.Unlock()
	ok := len(got) == len(want)
	for i := 0; ok && i < len(got); i++ {
		w := want[i]
		ok = got[i].Method == w.Method && strings.HasPrefix(got[i].URL, w.URLPrefix) && got[i].Status == w.Status &&
			strings.HasPrefix(got[i].Location, w.LocationPrefix)
	}
	if !ok {
		var ws []string
		for _, w := range want {
			ws = append(ws, w.Method+" "+w.URLPrefix+"… -> "+strconv.FormatInt(w.Status, 10)+" Location: "+w.LocationPrefix+"…")
		}
		t.Fatalf("browser navigation:\n got:\n  %s\n want:\n  %s", joinHops(got), strings.Join(ws, "\n  "))
	}
}

// waitHop waits until the browser loaded a document whose URL is u (after
// mark) and returns the hops since mark, up to that one, the preview frame
// left out.
func waitHop(t *testing.T, nav *navLog, mark int, u string) []hop {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		nav.mu.Lock()
		var got []hop
		for _, h := range nav.hops[mark:] {
			if strings.HasSuffix(h.URL, "/skins/elastic/watermark.html") {
				continue
			}
			got = append(got, h)
			if h.URL == u {
				nav.mu.Unlock()
				return got
			}
		}
		nav.mu.Unlock()
		if time.Now().After(deadline) {
			t.Fatalf("the browser did not load %s; it loaded:\n  %s", u, joinHops(got))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitText waits until the element sel contains text.
func waitText(t *testing.T, ctx context.Context, sel, text string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		got := mustRun(t, ctx, "read "+sel, chromedp.Text(chromedp.CSS(sel)))
		if strings.Contains(got, text) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s does not show %q; it shows %q", sel, text, got)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// introspect asks uapid about token as Dovecot does: "active" or
// "inactive".
func introspect(t *testing.T, s *stacktest.Stack, token string) string {
	t.Helper()
	r := s.Srv.PostForm(nil, "webmaild", "/oauth2/introspect",
		testserver.Basic(stacktest.ResourceServer, s.Wiring.ResourceSecret), url.Values{"token": {token}})
	switch v := r.JSON(t); v["active"] {
	case true:
		return "active"
	case false:
		return "inactive"
	}
	t.Fatalf("introspection: HTTP %d %s", r.StatusCode, r.Body)
	return ""
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
