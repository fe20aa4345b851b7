package multinode

import (
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/uapid/uapid/internal/testserver"
)

// TestOAuthAcrossNodes: the OAuth codes and tokens of Webmail clients live
// with the sessions (PostgreSQL, or Redis), so any node answers any step:
// a code approved on one node is exchanged on the other, once; a token
// issued on one introspects on the other; a replayed code, a revocation
// and a logout on one node make the tokens inactive on the other.
func TestOAuthAcrossNodes(t *testing.T) {
	t.Parallel()
	const (
		secret   = "Roundcube-secret-0123456789"
		dcSecret = "Dovecot-secret-0123456789"
		redirect = "https://mail.example/index.php/login/oauth"
	)
	dir := t.TempDir()
	rcFile, dcFile := filepath.Join(dir, "rc"), filepath.Join(dir, "dc")
	os.WriteFile(rcFile, []byte(secret+"\n"), 0o600)
	os.WriteFile(dcFile, []byte(dcSecret+"\n"), 0o600)
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			t.Parallel()
			c := newCluster(t, v, "--oauth-clients", "roundcube:"+rcFile+":"+redirect, "--resource-servers", "dovecot:"+dcFile)
			a, b := c.start(t, "A", ""), c.start(t, "B", "")
			browser := client(a, b)
			rc := testserver.Basic("roundcube", secret)
			dovecot := testserver.Basic("dovecot", dcSecret)

			s := mustCreateWebmail(t, browser, a)
			if r := login(t, browser, a, s); r.StatusCode != http.StatusFound {
				t.Fatalf("login on A: HTTP %d %s", r.StatusCode, r.body)
			}
			code := func(n *node) string {
				t.Helper()
				q := url.Values{"response_type": {"code"}, "client_id": {"roundcube"}, "redirect_uri": {redirect}}
				r := do(t, browser, "GET", n.url("webmaild", "/oauth2/authorize?"+q.Encode()), "", nil)
				u, err := url.Parse(r.Header.Get("Location"))
				if r.StatusCode != http.StatusFound || err != nil || u.Query().Get("code") == "" {
					t.Fatalf("authorize on %s: HTTP %d Location %q", n.name, r.StatusCode, r.Header.Get("Location"))
				}
				return u.Query().Get("code")
			}
			exchange := func(n *node, code string, want int) (access, refresh string) {
				t.Helper()
				r := do(t, client(a, b), "POST", n.url("webmaild", "/oauth2/token"), rc,
					url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirect}})
				if r.StatusCode != want {
					t.Fatalf("token on %s: HTTP %d, want %d: %s", n.name, r.StatusCode, want, r.body)
				}
				if want != http.StatusOK {
					return "", ""
				}
				v := r.json(t)
				return v["access_token"].(string), v["refresh_token"].(string)
			}
			active := func(n *node, token string) bool {
				t.Helper()
				r := do(t, client(a, b), "POST", n.url("webmaild", "/oauth2/introspect"), dovecot, url.Values{"token": {token}})
				v := r.json(t)
				if r.StatusCode != http.StatusOK {
					t.Fatalf("introspect on %s: HTTP %d %s", n.name, r.StatusCode, r.body)
				}
				return v["active"] == true && v["username"] == "info@alice.test"
			}

			// Approved on B, exchanged on A, introspected on B.
			c1 := code(b)
			access, refresh := exchange(a, c1, http.StatusOK)
			if !active(b, access) || !active(a, access) {
				t.Fatal("a token issued on A is not active on both nodes")
			}
			// A refresh on B.
			r := do(t, client(a, b), "POST", b.url("webmaild", "/oauth2/token"), rc, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}})
			if r.StatusCode != http.StatusOK {
				t.Fatalf("refresh on B: HTTP %d %s", r.StatusCode, r.body)
			}
			// The code again, on B: refused, and the first use's tokens
			// are revoked on both nodes.
			exchange(b, c1, http.StatusBadRequest)
			if active(a, access) || active(b, access) {
				t.Fatal("a replayed code on B left its tokens active")
			}
			// Revocation on A ends the session for B too.
			access2, _ := exchange(b, code(a), http.StatusOK)
			if !active(a, access2) {
				t.Fatal("a new token is not active")
			}
			if r := do(t, client(a, b), "POST", a.url("webmaild", "/oauth2/revoke"), rc, url.Values{"token": {access2}}); r.StatusCode != http.StatusOK {
				t.Fatalf("revoke on A: HTTP %d %s", r.StatusCode, r.body)
			}
			if active(b, access2) {
				t.Fatal("a token revoked on A is active on B")
			}
			q := url.Values{"response_type": {"code"}, "client_id": {"roundcube"}, "redirect_uri": {redirect}}
			if r := do(t, browser, "GET", b.url("webmaild", "/oauth2/authorize?"+q.Encode()), "", nil); r.StatusCode != http.StatusUnauthorized {
				t.Fatalf("authorize on B after the revocation on A: HTTP %d", r.StatusCode)
			}
		})
	}
}
