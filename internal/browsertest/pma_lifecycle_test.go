package browsertest

import (
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/uapid/uapid/internal/pmaserver"
	"github.com/uapid/uapid/internal/testserver"
	"github.com/uapid/uapid/internal/tlsutil"
)

// These tests drive the real phpMyAdmin over HTTP as a browser would (one
// cookie jar for uapid and phpMyAdmin): what ends phpMyAdmin's access, and
// what does not. The browser test (pma_browser_test.go) walks the main
// path in Chromium.

var aliceDBs = []string{"alice_wp", "information_schema"}

// wantEnded checks that phpMyAdmin's next request lands on the sign-on
// page saying the cPanel session ended, and that the temporary user is
// gone from MariaDB within within (0: already).
func wantEnded(t *testing.T, b *browser, name, pass string, within time.Duration, when string) {
	t.Helper()
	_, at, body := b.get(b.e.pma.URL + "index.php?route=/server/databases")
	if got := signOnReason(body); got != "ended" || !strings.HasPrefix(at, b.e.pma.SignOnPage) {
		t.Fatalf("%s: phpMyAdmin's next request ended at %s (reason %q), want the sign-on page saying ended:\n%s\nhops:\n%s",
			when, at, got, body, strings.Join(b.hops, "\n"))
	}
	if dbs := databaseNames(body); len(dbs) != 0 {
		t.Fatalf("%s: the sign-on page lists databases %q", when, dbs)
	}
	b.e.waitUserGone(t, name, within, when)
	if err := b.e.mysqlLogin(name, pass); err == nil {
		t.Fatalf("%s: the temporary user's credentials still connect to MariaDB", when)
	}
	// And it stays so: phpMyAdmin does not sign on again by itself.
	if _, _, body := b.get(b.e.pma.URL + "index.php"); signOnReason(body) == "" {
		t.Fatalf("%s: phpMyAdmin signed on again by itself:\n%s", when, body)
	}
}

// whm calls a WHM API 1 function as root and expects result 1.
func (e *pmaEnv) whm(t *testing.T, fn string, q url.Values) {
	t.Helper()
	q.Set("api.version", "1")
	r := e.srv.Get("whostmgrd", "/json-api/"+fn+"?"+q.Encode(), testserver.Basic("root", testserver.RootPassword))
	if !strings.Contains(string(r.Body), `"result":1`) {
		t.Fatalf("%s: HTTP %d: %s", fn, r.StatusCode, r.Body)
	}
}

// TestPhpMyAdminLifecycle: phpMyAdmin's own logout ends only phpMyAdmin's
// sign-on; uapid's logout, the account's suspension and its removal end
// phpMyAdmin's access at its next request, with the temporary user gone.
func TestPhpMyAdminLifecycle(t *testing.T) {
	e := startPhpMyAdmin(t)

	// phpMyAdmin's logout ends nothing else.
	b := e.browser(t)
	if dbs := databaseNames(b.logIn("alice")); !slices.Equal(dbs, aliceDBs) {
		t.Fatalf("phpMyAdmin signed on as alice lists %q, want %q", dbs, aliceDBs)
	}
	name, pass := tempUserOf(t, e, "alice")
	at, body := b.pmaLogout()
	if signOnReason(body) != "logged_out" || !strings.HasPrefix(at, e.pma.SignOnPage) {
		t.Fatalf("phpMyAdmin's logout ended at %s:\n%s", at, body)
	}
	if _, _, body := b.get(e.pma.URL + "index.php"); signOnReason(body) == "" {
		t.Fatalf("phpMyAdmin still signed on after its logout:\n%s", body)
	}
	if !e.userExists(t, name) || e.mysqlLogin(name, pass) != nil {
		t.Fatal("phpMyAdmin's logout dropped the temporary user")
	}
	if !b.landingOK() {
		t.Fatal("phpMyAdmin's logout ended the cPanel session")
	}
	if dbs := databaseNames(b.openPhpMyAdmin()); !slices.Equal(dbs, aliceDBs) {
		t.Fatalf("phpMyAdmin reopened from the landing page lists %q", dbs)
	}
	if again, _ := tempUserOf(t, e, "alice"); again != name {
		t.Fatalf("reopening phpMyAdmin made another temporary user %s (was %s)", again, name)
	}

	// uapid's logout ends it.
	b.logOut()
	wantEnded(t, b, name, pass, 0, "after uapid's logout")

	// The account's suspension ends it.
	b = e.browser(t)
	b.logIn("alice")
	name, pass = tempUserOf(t, e, "alice")
	e.whm(t, "suspendacct", url.Values{"user": {"alice"}, "reason": {"test"}})
	wantEnded(t, b, name, pass, 0, "after the suspension")
	e.whm(t, "unsuspendacct", url.Values{"user": {"alice"}})

	// The account's removal ends it (bob, who sees bob_db and not alice's).
	b = e.browser(t)
	if dbs := databaseNames(b.logIn("bob")); !slices.Equal(dbs, []string{"bob_db", "information_schema"}) {
		t.Fatalf("phpMyAdmin signed on as bob lists %q", dbs)
	}
	name, pass = tempUserOf(t, e, "bob")
	e.whm(t, "removeacct", url.Values{"user": {"bob"}})
	wantEnded(t, b, name, pass, 0, "after the removal")
}

// TestPhpMyAdminSessionExpiry: working in phpMyAdmin keeps the cPanel
// session alive; once the session expires, phpMyAdmin's next request is
// refused and the sweeper drops the temporary user.
func TestPhpMyAdminSessionExpiry(t *testing.T) {
	const idle = 3 * time.Second
	e := startPhpMyAdmin(t, "--idle-timeout", idle.String(), "--sweep-interval", "1s")
	b := e.browser(t)
	b.logIn("alice")
	name, pass := tempUserOf(t, e, "alice")

	// Requests to phpMyAdmin count as uses of the session.
	before := sessionExpiry(t, e)
	time.Sleep(50 * time.Millisecond)
	if dbs := databaseNames(b.databases()); !slices.Equal(dbs, aliceDBs) {
		t.Fatalf("phpMyAdmin lists %q", dbs)
	}
	if after := sessionExpiry(t, e); !after.After(before) {
		t.Fatalf("a phpMyAdmin request did not move the session's expiry (%v, then %v)", before, after)
	}

	// Left alone past the idle timeout, the session expires.
	time.Sleep(time.Until(sessionExpiry(t, e)) + 100*time.Millisecond)
	wantEnded(t, b, name, pass, 30*time.Second, "after the session expired")
}

// TestPhpMyAdminSignOnPage: the sign-on page says why phpMyAdmin is signed
// out when a link is used twice, when uapid refuses the script's
// credentials, and when uapid cannot be reached (and phpMyAdmin goes on
// once it can again).
func TestPhpMyAdminSignOnPage(t *testing.T) {
	e := startPhpMyAdmin(t)
	b := e.browser(t)
	b.logIn("alice")
	var ticketURL string
	for _, h := range b.hops {
		if _, u, ok := strings.Cut(h, "GET "); ok && strings.Contains(u, "uapid_signon=") {
			ticketURL, _, _ = strings.Cut(u, " -> ")
		}
	}
	if ticketURL == "" {
		t.Fatalf("no ticket in the hops:\n%s", strings.Join(b.hops, "\n"))
	}
	reason := func(b *browser, u, want, when string) {
		t.Helper()
		_, at, body := b.get(u)
		if got := signOnReason(body); got != want {
			t.Fatalf("%s: %s ended at %s saying %q, want %q:\n%s", when, u, at, got, want, body)
		}
	}
	// The same link again, in another browser: spent.
	reason(e.browser(t), ticketURL, "ticket", "a used link")

	settings := pmaserver.Settings{
		UapidURL:   "https://" + e.srv.Addrs["cpaneld"],
		SecretFile: filepath.Join(t.TempDir(), "wrong.secret"),
		CAFile:     filepath.Join(e.srv.DataDir, tlsutil.CertFile),
	}
	if err := os.WriteFile(settings.SecretFile, []byte("Not-the-secret-0123456789\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	set := func(s pmaserver.Settings) {
		t.Helper()
		if err := e.pma.SetSettings(s); err != nil {
			t.Fatal(err)
		}
	}
	// uapid refuses the script's credentials.
	set(settings)
	reason(b, e.pma.URL+"index.php", "config", "a wrong secret")
	// uapid cannot be reached: phpMyAdmin says so and keeps the sign-on.
	settings.SecretFile = e.secret
	settings.UapidURL = "https://127.0.0.1:1"
	set(settings)
	reason(b, e.pma.URL+"index.php", "unavailable", "uapid away")
	settings.UapidURL = "https://" + e.srv.Addrs["cpaneld"]
	set(settings)
	if dbs := databaseNames(b.databases()); !slices.Equal(dbs, aliceDBs) {
		t.Fatalf("once uapid answers again, phpMyAdmin lists %q", dbs)
	}
}
