// Package testserver starts a real uapid server for black-box tests: the
// `uapid serve` command in-process, on random loopback ports, with real TLS
// (clients trust the generated certificate, nothing is skipped) and a
// fixture with a known cast of accounts.
package testserver

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uapid/uapid/internal/cli"
	"github.com/uapid/uapid/internal/tlsutil"
)

// Known credentials of the default fixture.
const (
	RootPassword  = "root-secret"
	RootToken     = "ROOTTOKEN0123456789ABCDEFGHIJKLM"
	AlicePassword = "Alice-pass-1"
	AliceToken    = "ALICETOKEN0123456789ABCDEFGHIJKL"
	BobPassword   = "Bob-pass-1"
	BobToken      = "BOBTOKEN0123456789ABCDEFGHIJKLMN"
	ResPassword   = "Res-pass-1"
	ResToken      = "RESTOKEN0123456789ABCDEFGHIJKLMN"
	CarolPassword = "Carol-pass-1"
	SamPassword   = "Sam-pass-1"
	InfoPassword  = "Info-pass-1"
	SalesPassword = "Sales-pass-1"
	CarolMailPass = "Carol-mail-1"
)

// Fixture is the default cast: alice (two domains, three mailboxes, one of
// them login-suspended), bob, a reseller res owning carol, and a suspended
// account sam.
const Fixture = `root:
  password: "` + RootPassword + `"
  tokens: [{name: billing, token: "` + RootToken + `"}]
accounts:
  - user: res
    password: "` + ResPassword + `"
    domains: [res.test]
    reseller: true
    tokens: [{name: ci, token: "` + ResToken + `"}]
  - user: alice
    password: "` + AlicePassword + `"
    domains: [alice.test, shop.alice.test]
    locale: en
    databases: [alice_wp]
    tokens: [{name: ci, token: "` + AliceToken + `"}]
    mailboxes:
      - address: info@alice.test
        password: "` + InfoPassword + `"
      - address: sales@shop.alice.test
        password: "` + SalesPassword + `"
      - address: locked@alice.test
        password: "Locked-pass-1"
        suspended_login: true
  - user: bob
    password: "` + BobPassword + `"
    domains: [bob.test]
    locale: de
    databases: [bob_db]
    tokens: [{name: ci, token: "` + BobToken + `"}]
    mailboxes:
      - address: info@bob.test
        password: "Bob-mail-1"
  - user: carol
    password: "` + CarolPassword + `"
    domains: [carol.test]
    owner: res
    mailboxes:
      - address: box@carol.test
        password: "` + CarolMailPass + `"
  - user: sam
    password: "` + SamPassword + `"
    domains: [sam.test]
    suspended: true
    tokens: [{name: ci, token: "SAMTOKEN0123456789ABCDEFGHIJKLMN"}]
    mailboxes:
      - address: info@sam.test
        password: "Sam-mail-1"
`

// Server is a running uapid.
type Server struct {
	t       testing.TB
	DataDir string
	// Addrs maps "cpaneld", "webmaild", "whostmgrd" (TLS) and
	// "cpaneld-plain" etc. to host:port.
	Addrs  map[string]string
	Stdout *SyncBuffer
	Stderr *SyncBuffer
	// RootCAs trusts the server's certificate.
	RootCAs *x509.CertPool

	stop chan struct{}
	done chan int
	once sync.Once
}

// SyncBuffer is a goroutine-safe bytes.Buffer.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns what was written so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Options change how the server starts.
type Options struct {
	Fixture string   // fixture text; "" means the default Fixture
	Args    []string // extra flags for `uapid serve`
	Env     map[string]string
	DataDir string // reuse a data directory ("" makes a new one)
	Plain   bool   // also enable the plain listeners
}

var listenRE = regexp.MustCompile(`^listening service=(\S+) tls=(true|false) addr=(\S+)$`)

// Start runs `uapid serve` until the test ends.
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	dir := o.DataDir
	if dir == "" {
		dir = t.TempDir()
	}
	fx := o.Fixture
	if fx == "" {
		fx = Fixture
	}
	fxPath := filepath.Join(t.TempDir(), "fixture.yaml")
	if err := os.WriteFile(fxPath, []byte(fx), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"serve", "--data", dir, "--fixture", fxPath, "--hostname", "localhost",
		"--cpanel-addr", "127.0.0.1:0", "--webmail-addr", "127.0.0.1:0", "--whm-addr", "127.0.0.1:0"}
	if o.Plain {
		args = append(args, "--cpanel-plain-addr", "127.0.0.1:0", "--webmail-plain-addr", "127.0.0.1:0", "--whm-plain-addr", "127.0.0.1:0")
	}
	args = append(args, o.Args...)
	s := &Server{t: t, DataDir: dir, Addrs: map[string]string{}, Stdout: &SyncBuffer{}, Stderr: &SyncBuffer{},
		stop: make(chan struct{}), done: make(chan int, 1)}
	ready := make(chan struct{})
	env := &cli.Env{
		Stdin:  strings.NewReader(""),
		Stdout: s.Stdout,
		Stderr: s.Stderr,
		Getenv: func(k string) string { return o.Env[k] },
		Ready:  ready,
		Stop:   s.stop,
	}
	go func() { s.done <- cli.Main(args, env) }()
	select {
	case <-ready:
	case code := <-s.done:
		t.Fatalf("uapid serve exited with %d before listening:\n%s", code, s.Stderr.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("uapid serve did not start in 30s:\n%s", s.Stderr.String())
	}
	t.Cleanup(func() { s.Stop() })
	sc := bufio.NewScanner(strings.NewReader(s.Stdout.String()))
	for sc.Scan() {
		if m := listenRE.FindStringSubmatch(sc.Text()); m != nil {
			key := m[1]
			if m[2] == "false" {
				key += "-plain"
			}
			s.Addrs[key] = m[3]
		}
	}
	pem, err := os.ReadFile(filepath.Join(dir, tlsutil.CertFile))
	if err != nil {
		t.Fatalf("read generated certificate: %v", err)
	}
	s.RootCAs = x509.NewCertPool()
	if !s.RootCAs.AppendCertsFromPEM(pem) {
		t.Fatal("generated certificate does not parse")
	}
	return s
}

// Stop ends the server (as SIGTERM would) and returns its exit code.
func (s *Server) Stop() int {
	code := -1
	s.once.Do(func() {
		close(s.stop)
		select {
		case code = <-s.done:
		case <-time.After(40 * time.Second):
			s.t.Errorf("uapid serve did not stop in 40s")
		}
	})
	return code
}

// URL returns the https URL of path on service ("cpaneld", "webmaild",
// "whostmgrd"; "-plain" suffixed services give http URLs).
func (s *Server) URL(service, path string) string {
	addr, ok := s.Addrs[service]
	if !ok {
		s.t.Fatalf("no listener for %s", service)
	}
	scheme := "https"
	if strings.HasSuffix(service, "-plain") {
		scheme = "http"
	}
	return scheme + "://" + addr + path
}

// Client returns an HTTP client trusting the server's certificate, not
// following redirects, with a cookie jar.
func (s *Server) Client() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{
		Timeout: 30 * time.Second,
		Jar:     jar,
		Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: s.RootCAs, ServerName: "localhost"},
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// Response is a read response.
type Response struct {
	*http.Response
	Body []byte
}

// JSON decodes the body into a generic value (numbers as json.Number).
func (r *Response) JSON(t testing.TB) map[string]any {
	t.Helper()
	var v map[string]any
	d := json.NewDecoder(bytes.NewReader(r.Body))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		t.Fatalf("response is not a JSON object (%v): %s", err, r.Body)
	}
	return v
}

// Do sends a request and reads the whole response.
func (s *Server) Do(c *http.Client, req *http.Request) *Response {
	s.t.Helper()
	if c == nil {
		c = s.Client()
	}
	resp, err := c.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatalf("read body: %v", err)
	}
	return &Response{Response: resp, Body: body}
}

// Get is a GET with an optional Authorization header value.
func (s *Server) Get(service, path, authz string) *Response {
	s.t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.URL(service, path), nil)
	if err != nil {
		s.t.Fatal(err)
	}
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	return s.Do(nil, req)
}

// PostForm is a urlencoded POST with an optional Authorization header.
func (s *Server) PostForm(c *http.Client, service, path, authz string, form url.Values) *Response {
	s.t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.URL(service, path), strings.NewReader(form.Encode()))
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	return s.Do(c, req)
}

// Basic returns a Basic Authorization header value.
func Basic(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

// CPanelToken returns a "cpanel user:TOKEN" header value.
func CPanelToken(user, token string) string { return fmt.Sprintf("cpanel %s:%s", user, token) }

// WHMToken returns a "whm user:TOKEN" header value.
func WHMToken(user, token string) string { return fmt.Sprintf("whm %s:%s", user, token) }
