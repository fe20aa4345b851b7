package browsertest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"html/template"
	"image/png"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/uapid/uapid/internal/testserver"
	"github.com/uapid/uapid/internal/testutil"
	"github.com/uapid/uapid/internal/tlsutil"
)

// mailbox is the fixture mailbox the test logs in as; it belongs to alice.
const mailbox = "info@alice.test"

// browserTimeout bounds the whole browser part of the test, so that a hung
// browser or server can never hang `go test`.
const browserTimeout = 60 * time.Second

// landingCopy is where a copy of the landing page screenshot goes, for a
// human to look at.
const landingCopy = "/tmp/uapid-landing.png"

var (
	tokenRE   = regexp.MustCompile(`^/cpsess[0-9]{10}$`)
	sessionRE = regexp.MustCompile(`^info@alice\.test:[0-9A-Za-z_]{16}:CREATE_WEBMAIL_SESSION_FOR_MAIL_USER,[0-9a-f]{32}$`)
)

// TestBrowserWebmailLogin walks a real browser through the Webmail one-time
// login (SPEC §3.1, §4): an integrator's portal page hands the session to
// the browser with an auto-submitted form, the browser lands on the Webmail
// page holding an HttpOnly session cookie, a replay of the same session
// fails, and logout ends the session.
func TestBrowserWebmailLogin(t *testing.T) {
	exe := chromiumPath(t)
	srv := testserver.Start(t, testserver.Options{})
	portal := newPortal(t)
	webmail := func(path string) string { return srv.URL("webmaild", path) }
	portalURL := func(path string) string { return portal.srv.URL + path }

	// 1. alice creates a one-time Webmail session for her mailbox.
	token1, sess1 := createSession(t, srv)
	portal.add("/first", handoff{Action: webmail(token1 + "/login/"), Session: sess1})

	ctx, nav := startBrowser(t, exe, srv)

	// 2 and 3. The portal page posts the session; the browser follows the
	// 302 to the landing page.
	mark := nav.mark()
	mustDo(t, ctx, "log in through the portal page",
		chromedp.Navigate(portalURL("/first")),
		chromedp.WaitVisible(chromedp.ID("user")),
	)
	nav.expect(t, mark,
		hop{"GET", portalURL("/first"), 200, ""},
		hop{"POST", webmail(token1 + "/login/"), 302, token1 + "/"},
		hop{"GET", webmail(token1 + "/"), 200, ""},
	)
	if loc := mustRun(t, ctx, "read the location", chromedp.Location()); loc != webmail(token1+"/") {
		t.Errorf("after login the browser is at %q, want %q", loc, webmail(token1+"/"))
	}
	if user := mustRun(t, ctx, "read #user", chromedp.Text(chromedp.ID("user"))); user != mailbox {
		t.Errorf("landing page #user = %q, want %q", user, mailbox)
	}
	if exp := mustRun(t, ctx, "read #expires", chromedp.Text(chromedp.ID("expires"))); strings.TrimSpace(exp) == "" {
		t.Error("landing page #expires is empty")
	}
	mustDo(t, ctx, "find the logout button", chromedp.WaitVisible(chromedp.CSS(`form[action="`+token1+`/logout/"] #logout`)))

	c := sessionCookie(t, ctx, webmail("/"))
	if c == nil {
		t.Fatalf("after login the browser holds no webmailsession cookie for %s", webmail("/"))
	}
	checkCookie(t, c, sess1)

	// 6. A screenshot of the landing page, for humans.
	shot := mustRun(t, ctx, "take a screenshot", chromedp.FullScreenshot(100))
	checkPNG(t, shot)
	shotPath := filepath.Join(t.TempDir(), "landing.png")
	if err := os.WriteFile(shotPath, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(landingCopy, shot, 0o644); err != nil {
		t.Logf("could not save a copy of the screenshot: %v", err)
	} else {
		t.Logf("landing page screenshot: %s (%d bytes)", landingCopy, len(shot))
	}

	// 4. The same portal page again: the session was consumed, so the
	// second submission ends on the failure page.
	mark = nav.mark()
	mustDo(t, ctx, "replay the session through the portal page",
		chromedp.Navigate(portalURL("/first")),
		chromedp.WaitVisible(chromedp.ID("code")),
	)
	nav.expect(t, mark,
		hop{"GET", portalURL("/first"), 200, ""},
		hop{"POST", webmail(token1 + "/login/"), 401, ""},
	)
	if code := mustRun(t, ctx, "read #code", chromedp.Text(chromedp.ID("code"))); code != "invalid_session" {
		t.Errorf("replayed login: #code = %q, want %q", code, "invalid_session")
	}

	// 5. A second session: log in, then log out with the button.
	token2, sess2 := createSession(t, srv)
	if token2 == token1 || sess2 == sess1 {
		t.Fatalf("two sessions share a token or secret: %s %s", token1, token2)
	}
	portal.add("/second", handoff{Action: webmail(token2 + "/login/"), Session: sess2})
	mark = nav.mark()
	mustDo(t, ctx, "log in with the second session",
		chromedp.Navigate(portalURL("/second")),
		chromedp.WaitVisible(chromedp.ID("user")),
	)
	nav.expect(t, mark,
		hop{"GET", portalURL("/second"), 200, ""},
		hop{"POST", webmail(token2 + "/login/"), 302, token2 + "/"},
		hop{"GET", webmail(token2 + "/"), 200, ""},
	)
	if user := mustRun(t, ctx, "read #user", chromedp.Text(chromedp.ID("user"))); user != mailbox {
		t.Errorf("second landing page #user = %q, want %q", user, mailbox)
	}
	c2 := sessionCookie(t, ctx, webmail("/"))
	if c2 == nil {
		t.Fatal("after the second login the browser holds no webmailsession cookie")
	}
	checkCookie(t, c2, sess2)
	if c2.Value == c.Value {
		t.Error("the second login did not replace the session cookie")
	}

	mark = nav.mark()
	mustDo(t, ctx, "log out",
		chromedp.Click(chromedp.ID("logout")),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/login/"] input[name="pass"]`)),
	)
	nav.expect(t, mark,
		hop{"POST", webmail(token2 + "/logout/"), 302, "/"},
		hop{"GET", webmail("/"), 302, "/login/"},
		hop{"GET", webmail("/login/"), 200, ""},
	)
	if loc := mustRun(t, ctx, "read the location", chromedp.Location()); loc != webmail("/login/") {
		t.Errorf("after logout the browser is at %q, want %q", loc, webmail("/login/"))
	}
	if left := sessionCookie(t, ctx, webmail("/")); left != nil {
		t.Errorf("after logout the browser still holds the cookie %s (expires %v)", left.Name, left.Expires)
	}

	// The landing page of the ended session now shows the failure page ...
	mark = nav.mark()
	mustDo(t, ctx, "load the landing page after logout",
		chromedp.Navigate(webmail(token2+"/")),
		chromedp.WaitVisible(chromedp.ID("code")),
	)
	nav.expect(t, mark, hop{"GET", webmail(token2 + "/"), 401, ""})
	if code := mustRun(t, ctx, "read #code", chromedp.Text(chromedp.ID("code"))); code != "invalid_session" {
		t.Errorf("landing page after logout: #code = %q, want %q", code, "invalid_session")
	}

	// ... also when the old cookie is put back: the server ended the
	// session, the browser did not merely forget it.
	secure, httpOnly := true, true
	mustDo(t, ctx, "restore the old cookie", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, network.SetCookie, network.SetCookieParams{
			Name: c2.Name, Value: c2.Value, URL: webmail("/"), Path: "/",
			Secure: &secure, HTTPOnly: &httpOnly, SameSite: network.CookieSameSiteLax,
		})
		return err
	}))
	mark = nav.mark()
	mustDo(t, ctx, "load the landing page with the old cookie",
		chromedp.Navigate(webmail(token2+"/")),
		chromedp.WaitVisible(chromedp.ID("code")),
	)
	nav.expect(t, mark, hop{"GET", webmail(token2 + "/"), 401, ""})
	if code := mustRun(t, ctx, "read #code", chromedp.Text(chromedp.ID("code"))); code != "invalid_session" {
		t.Errorf("landing page with the logged-out cookie: #code = %q, want %q", code, "invalid_session")
	}
}

// chromiumPath finds the browser, or skips (fails under CI) without one.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return testutil.RequireTool(t, "chromium")
}

// createSession calls create_webmail_session_for_mail_user as alice (API
// token) and returns the security token and the one-time session.
func createSession(t *testing.T, srv *testserver.Server) (token, sess string) {
	t.Helper()
	r := srv.Get("cpaneld",
		"/execute/Session/create_webmail_session_for_mail_user?login=info&domain=alice.test&remote_address=127.0.0.1",
		testserver.CPanelToken("alice", testserver.AliceToken))
	if r.StatusCode != http.StatusOK {
		t.Fatalf("create_webmail_session_for_mail_user: HTTP %d: %s", r.StatusCode, r.Body)
	}
	v := r.JSON(t)
	if v["status"] != json.Number("1") {
		t.Fatalf("create_webmail_session_for_mail_user failed: %s", r.Body)
	}
	data, _ := v["data"].(map[string]any)
	token, _ = data["token"].(string)
	sess, _ = data["session"].(string)
	if !tokenRE.MatchString(token) {
		t.Fatalf("data.token = %q, want /cpsess + 10 digits (body %s)", token, r.Body)
	}
	if !sessionRE.MatchString(sess) {
		t.Fatalf("data.session = %q does not have the documented form", sess)
	}
	return token, sess
}

// startBrowser starts a headless Chromium for the test. It trusts exactly
// the server's self-signed certificate (by its public key), not every
// certificate. The returned context ends after browserTimeout.
func startBrowser(t *testing.T, exe string, srv *testserver.Server) (context.Context, *navLog) {
	t.Helper()
	out := &testserver.SyncBuffer{}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		// Honoured only together with --user-data-dir.
		chromedp.Flag("ignore-certificate-errors-spki-list", certSPKI(t, srv)),
		chromedp.WindowSize(1024, 768),
		chromedp.CombinedOutput(out),
	)
	ctx, cancel := context.WithTimeout(context.Background(), browserTimeout)
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	bctx, bcancel := chromedp.NewContext(actx, chromedp.WithErrorf(t.Logf))
	t.Cleanup(func() {
		bcancel()
		acancel() // waits for the browser process to exit
		cancel()
		if t.Failed() {
			t.Logf("chromium output:\n%s", out.String())
			t.Logf("uapid stderr:\n%s", srv.Stderr.String())
		}
	})
	nav := &navLog{methods: map[network.RequestID]string{}, urls: map[network.RequestID]string{}}
	bctx = context.WithValue(bctx, navLogKey{}, nav)
	if err := chromedp.Listen(bctx, nav.event); err != nil {
		t.Fatalf("start chromium (%s): %v\n%s", exe, err, out.String())
	}
	return bctx, nav
}

// certSPKI returns the base64 SHA-256 of the public key of the server's
// self-signed certificate, the form --ignore-certificate-errors-spki-list
// takes.
func certSPKI(t *testing.T, srv *testserver.Server) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(srv.DataDir, tlsutil.CertFile))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		t.Fatalf("%s holds no PEM block", tlsutil.CertFile)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	return base64.StdEncoding.EncodeToString(sum[:])
}

func mustDo(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	mustRun(t, ctx, what, chromedp.Steps(steps...))
}

// mustRun runs a, failing the test with what the browser last loaded if it
// fails (a timeout alone says little).
func mustRun[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("%s: %v\nlast documents the browser loaded:\n  %s", what, err, lastHops(ctx, 6))
	}
	return v
}

// sessionCookie returns the browser's webmailsession cookie for u, or nil.
func sessionCookie(t *testing.T, ctx context.Context, u string) *network.Cookie {
	t.Helper()
	res := mustRun(t, ctx, "read the cookies", chromedp.Action[network.GetCookiesResult](
		func(ctx context.Context, tg *chromedp.Target) (network.GetCookiesResult, error) {
			return cdp.Call(ctx, tg, network.GetCookies, network.GetCookiesParams{URLs: []string{u}})
		}))
	for _, c := range res.Cookies {
		if c.Name == "webmailsession" {
			return c
		}
	}
	return nil
}

// checkCookie checks the attributes SPEC §4 gives the session cookie, and
// that it is a fresh secret for the same user, not the one-time login.
func checkCookie(t *testing.T, c *network.Cookie, login string) {
	t.Helper()
	if !c.HTTPOnly {
		t.Error("webmailsession cookie is not HttpOnly")
	}
	if !c.Secure {
		t.Error("webmailsession cookie is not Secure")
	}
	if c.SameSite != network.CookieSameSiteLax {
		t.Errorf("webmailsession cookie SameSite = %q, want Lax", c.SameSite)
	}
	if c.Path != "/" {
		t.Errorf("webmailsession cookie Path = %q, want /", c.Path)
	}
	v, err := url.QueryUnescape(c.Value)
	if err != nil {
		t.Fatalf("webmailsession cookie value %q is not URL-encoded: %v", c.Value, err)
	}
	if !strings.HasPrefix(v, mailbox+":") {
		t.Errorf("webmailsession cookie does not name %s", mailbox)
	}
	if v == login {
		t.Error("webmailsession cookie holds the one-time login secret, not a fresh one")
	}
}

func checkPNG(t *testing.T, data []byte) {
	t.Helper()
	if !bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")) {
		t.Fatalf("screenshot is not a PNG (%d bytes)", len(data))
	}
	cfg, err := png.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("screenshot does not decode: %v", err)
	}
	if cfg.Width == 0 || cfg.Height == 0 {
		t.Fatalf("screenshot is %dx%d", cfg.Width, cfg.Height)
	}
}

// hop is one HTTP response to a top-level document request: a redirect
// (with its Location) or the final page; or, with Status 0, a request that
// failed (Location then holds the browser's error text).
type hop struct {
	Method   string
	URL      string
	Status   int64
	Location string
}

func (h hop) String() string {
	if h.Status == 0 {
		return fmt.Sprintf("%s %s failed: %s", h.Method, h.URL, h.Location)
	}
	s := fmt.Sprintf("%s %s -> %d", h.Method, h.URL, h.Status)
	if h.Location != "" {
		s += " Location: " + h.Location
	}
	return s
}

type navLogKey struct{}

// lastHops describes the last n hops of the navLog in ctx.
func lastHops(ctx context.Context, n int) string {
	nav, _ := ctx.Value(navLogKey{}).(*navLog)
	if nav == nil {
		return "(none recorded)"
	}
	nav.mu.Lock()
	defer nav.mu.Unlock()
	return joinHops(nav.hops[max(0, len(nav.hops)-n):])
}

// navLog records the document responses the browser sees, redirects
// included, from the DevTools network events.
type navLog struct {
	mu      sync.Mutex
	methods map[network.RequestID]string
	urls    map[network.RequestID]string // document requests in flight
	hops    []hop
}

// event is a chromedp listener; it runs on the reader goroutine, before the
// reply to any later command, so a wait that saw a page also saw its hops.
func (n *navLog) event(ev any) {
	n.mu.Lock()
	defer n.mu.Unlock()
	switch ev := ev.(type) {
	case *network.EventRequestWillBeSent:
		if ev.Type != network.ResourceTypeDocument {
			return
		}
		if r := ev.RedirectResponse; r != nil {
			n.hops = append(n.hops, hop{n.methods[ev.RequestID], r.URL, r.Status, header(r.Headers, "Location")})
		}
		n.methods[ev.RequestID] = ev.Request.Method
		n.urls[ev.RequestID] = ev.Request.URL
	case *network.EventResponseReceived:
		if ev.Type != network.ResourceTypeDocument {
			return
		}
		delete(n.urls, ev.RequestID)
		n.hops = append(n.hops, hop{n.methods[ev.RequestID], ev.Response.URL, ev.Response.Status, ""})
	case *network.EventLoadingFailed:
		if u, ok := n.urls[ev.RequestID]; ok {
			delete(n.urls, ev.RequestID)
			n.hops = append(n.hops, hop{n.methods[ev.RequestID], u, 0, ev.ErrorText})
		}
	}
}

func (n *navLog) mark() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.hops)
}

// expect checks that the hops since mark are exactly want.
func (n *navLog) expect(t *testing.T, mark int, want ...hop) {
	t.Helper()
	n.mu.Lock()
	got := append([]hop(nil), n.hops[mark:]...)
	n.mu.Unlock()
	ok := len(got) == len(want)
	for i := 0; ok && i < len(got); i++ {
		ok = got[i] == want[i]
	}
	if !ok {
		t.Errorf("browser navigation:\n got:\n  %s\n want:\n  %s", joinHops(got), joinHops(want))
	}
}

func joinHops(hs []hop) string {
	s := make([]string, len(hs))
	for i, h := range hs {
		s[i] = h.String()
	}
	if len(s) == 0 {
		return "(none)"
	}
	return strings.Join(s, "\n  ")
}

func header(h network.Headers, name string) string {
	for k, v := range h {
		if strings.EqualFold(k, name) {
			s, _ := v.(string)
			return s
		}
	}
	return ""
}

// handoff is what the portal page posts.
type handoff struct {
	Action  string
	Session string
}

// portal plays an integrator's site: a plain page that hands a Webmail
// session to the browser with a form that submits itself on load.
type portal struct {
	srv   *httptest.Server
	mu    sync.Mutex
	pages map[string]handoff
}

var handoffPage = template.Must(template.New("handoff").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Example hosting portal</title></head>
<body>
<p>Opening Webmail…</p>
<form id="handoff" method="post" action="{{.Action}}">
<input type="hidden" name="session" value="{{.Session}}">
<button type="submit" id="open">Open Webmail</button>
</form>
<script>document.getElementById("handoff").submit();</script>
</body></html>
`))

func newPortal(t *testing.T) *portal {
	p := &portal{pages: map[string]handoff{}}
	p.srv = httptest.NewServer(p)
	t.Cleanup(p.srv.Close)
	return p
}

func (p *portal) add(path string, h handoff) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pages[path] = h
}

func (p *portal) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	h, ok := p.pages[r.URL.Path]
	p.mu.Unlock()
	if !ok || r.Method != http.MethodGet {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	handoffPage.Execute(w, h)
}
