package server

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/uapid/uapid/internal/app"
	"github.com/uapid/uapid/internal/config"
	"github.com/uapid/uapid/internal/session"
	"github.com/uapid/uapid/internal/uapi"
)

// The full request paths through the handler (middleware, routing,
// authentication, the Session module, the SQLite store, encoding), without
// TLS or sockets: what uapid itself costs per request. `uapid bench`
// measures the same over HTTPS against a bare net/http server.

const benchToken = "BENCHTOKEN0123456789ABCDEFGHIJKL"

// benchFixture has one account with an API token and a mailbox; the
// password hashes are $6$ of "Bench-pass-1" (the account) and
// "Box-pass-1" (the mailbox).
const benchFixture = `accounts:
  - user: bench
    password: "Bench-pass-1"
    domains: [bench.test]
    tokens: [{name: ci, token: "` + benchToken + `"}]
    mailboxes:
      - address: box@bench.test
        password: "Box-pass-1"
`

func newBenchServer(b *testing.B) *Server {
	b.Helper()
	dir := b.TempDir()
	fx := filepath.Join(dir, "fixture.yaml")
	if err := os.WriteFile(fx, []byte(benchFixture), 0o600); err != nil {
		b.Fatal(err)
	}
	fs, vals := config.FlagSet("bench", io.Discard)
	if err := fs.Parse([]string{"--data", filepath.Join(dir, "data"), "--fixture", fx, "--hostname", "localhost"}); err != nil {
		b.Fatal(err)
	}
	cfg, err := config.Load(vals, func(string) string { return "" })
	if err != nil {
		b.Fatal(err)
	}
	// The access log is formatted as in production and thrown away.
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	a, err := app.Open(context.Background(), cfg, log)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { a.Close() })
	s, err := New(a)
	if err != nil {
		b.Fatal(err)
	}
	return s
}

func benchCreateRequest(authz string) *http.Request {
	r := httptest.NewRequest(http.MethodGet,
		"/execute/Session/create_webmail_session_for_mail_user?login=box&domain=bench.test&remote_address=127.0.0.1", nil)
	r.RemoteAddr = "127.0.0.1:40000"
	r.Header.Set("Authorization", authz)
	return r
}

func serveOK(b *testing.B, h http.Handler, r *http.Request, want int) {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != want || (want == http.StatusOK && !strings.Contains(w.Body.String(), `"status":1`)) {
		b.Fatalf("HTTP %d: %s", w.Code, w.Body.String())
	}
}

func benchCreate(b *testing.B, authz string, parallel bool) {
	s := newBenchServer(b)
	h := s.handler(uapi.ServiceCPanel, true)
	serveOK(b, h, benchCreateRequest(authz), http.StatusOK) // warm the caches
	b.ReportAllocs()
	b.ResetTimer()
	if !parallel {
		for range b.N {
			serveOK(b, h, benchCreateRequest(authz), http.StatusOK)
		}
		return
	}
	b.SetParallelism(16)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			serveOK(b, h, benchCreateRequest(authz), http.StatusOK)
		}
	})
}

// BenchmarkHandlerCreate is create_webmail_session_for_mail_user with an
// API token, one request at a time.
func BenchmarkHandlerCreate(b *testing.B) {
	benchCreate(b, "cpanel bench:"+benchToken, false)
}

// BenchmarkHandlerCreateParallel is the same with 16 goroutines per P,
// which lets the SQLite store commit concurrent creations together.
func BenchmarkHandlerCreateParallel(b *testing.B) {
	benchCreate(b, "cpanel bench:"+benchToken, true)
}

// BenchmarkHandlerCreateBasic authenticates with Basic (the verified
// password is cached, see auth.CredCache).
func BenchmarkHandlerCreateBasic(b *testing.B) {
	benchCreate(b, "Basic YmVuY2g6QmVuY2gtcGFzcy0x", false) // bench:Bench-pass-1
}

// BenchmarkHandlerLogin redeems pre-created login sessions on the Webmail
// handler (302 and a cookie).
func BenchmarkHandlerLogin(b *testing.B) {
	s := newBenchServer(b)
	h := s.handler(uapi.ServiceWebmail, true)
	type item struct{ token, form string }
	items := make([]item, b.N+1)
	origin := netip.MustParseAddr("127.0.0.1")
	for i := range items {
		rec, secret, err := s.app.Sessions.Create(context.Background(), session.NewSession{
			User: "box@bench.test", Account: "bench", Service: uapi.ServiceWebmail, Tag: session.TagMailUser,
			Creator: "bench", Method: "create_webmail_session_for_mail_user", Origin: origin, Locale: "en",
		})
		if err != nil {
			b.Fatal(err)
		}
		items[i] = item{rec.Token, url.Values{"session": {secret}}.Encode()}
	}
	var next atomic.Int64
	login := func() {
		it := items[next.Add(1)-1]
		r := httptest.NewRequest(http.MethodPost, it.token+"/login/", strings.NewReader(it.form))
		r.RemoteAddr = "127.0.0.1:40000"
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		serveOK(b, h, r, http.StatusFound)
	}
	login()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		login()
	}
}
