// Package stacktest starts, for one test, a uapid server (internal/
// testserver) configured as the authority of a private Dovecot and, on
// request, a private Roundcube (package mailstack), all on loopback ports
// in the test's temporary directory, stopped by PID when the test ends.
//
// The Debian packages must be installed (mailstack.Packages). Where they
// are missing the test is skipped with the apt-get line to run, except
// under CI (the environment variable CI is non-empty), where that is a
// failure: CI installs them.
package stacktest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uapid/uapid/internal/mailstack"
	"github.com/uapid/uapid/internal/testserver"
	"github.com/uapid/uapid/internal/tlsutil"
)

// Names of the OAuth client and the resource server the stack registers.
const (
	ClientID       = "roundcube"
	ResourceServer = "dovecot"
)

// Options choose what to start.
type Options struct {
	// Roundcube also starts Roundcube, and makes uapid send Webmail
	// logins there (--webmail-redirect).
	Roundcube bool
	// Args are more flags for uapid.
	Args []string
}

// Stack is a running stack.
type Stack struct {
	Srv       *testserver.Server
	Wiring    mailstack.Wiring
	Dovecot   *mailstack.Dovecot
	Roundcube *mailstack.Roundcube // nil without Options.Roundcube

	mu     sync.Mutex
	issued []string // access tokens uapid gave Roundcube, oldest first
}

// AccessTokens returns the access tokens uapid issued to Roundcube so far,
// oldest first. Roundcube asks for them through a proxy of the test that
// records them; the browser and the logs never see them.
func (s *Stack) AccessTokens() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.issued)
}

// tokenProxy forwards Roundcube's token requests to uapid and records the
// access tokens of the answers.
func (s *Stack) tokenProxy(t *testing.T) string {
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: s.Srv.RootCAs}}
	t.Cleanup(tr.CloseIdleConnections)
	p := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		req, err := http.NewRequestWithContext(r.Context(), r.Method, s.Wiring.UapidURL+"/oauth2/token", bytes.NewReader(body))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		for _, h := range []string{"Content-Type", "Authorization", "Accept", "User-Agent"} {
			if v := r.Header.Get(h); v != "" {
				req.Header.Set(h, v)
			}
		}
		resp, err := tr.RoundTrip(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		var v struct {
			AccessToken string `json:"access_token"`
		}
		if resp.StatusCode == http.StatusOK && json.Unmarshal(out, &v) == nil && v.AccessToken != "" {
			s.mu.Lock()
			s.issued = append(s.issued, v.AccessToken)
			s.mu.Unlock()
		}
		for k, vs := range resp.Header {
			w.Header()[k] = vs
		}
		w.WriteHeader(resp.StatusCode)
		w.Write(out)
	}))
	t.Cleanup(p.Close)
	return p.URL + "/oauth2/token"
}

// Require skips the test (fails it under CI) when the Debian packages are
// missing.
func Require(t testing.TB) {
	t.Helper()
	missing := mailstack.Missing()
	if len(missing) == 0 {
		return
	}
	msg := "the Webmail stack is not installed (" + strings.Join(missing, ", ") + "); install it with: " +
		"echo 'roundcube-core roundcube/dbconfig-install boolean false' | debconf-set-selections && " +
		"apt-get install -y --no-install-recommends " + mailstack.Packages
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip("skipping: " + msg)
}

// secret returns a fresh secret of 32 letters and digits.
func secret() string { return rand.Text() }

// Start starts the stack for the test.
func Start(t *testing.T, o Options) *Stack {
	t.Helper()
	Require(t)
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	w := mailstack.Wiring{ResourceServer: ResourceServer, ResourceSecret: secret(), ClientID: ClientID, ClientSecret: secret()}
	rcPort := 0
	redirect := "http://127.0.0.1:9/index.php/login/oauth" // no Roundcube: a client all the same
	args := []string{"--resource-servers", ResourceServer + ":" + write("dovecot.secret", w.ResourceSecret)}
	if o.Roundcube {
		var err error
		if rcPort, err = mailstack.FreePort(); err != nil {
			t.Fatal(err)
		}
		redirect = mailstack.RedirectURI(rcPort)
		args = append(args, "--webmail-redirect", "http://127.0.0.1:"+strconv.Itoa(rcPort)+"/")
	}
	args = append(args, "--oauth-clients", ClientID+":"+write("roundcube.secret", w.ClientSecret)+":"+redirect)
	srv := testserver.Start(t, testserver.Options{Args: append(args, o.Args...)})
	w.UapidURL = strings.TrimSuffix(srv.URL("webmaild", ""), "/")
	w.CAFile = filepath.Join(srv.DataDir, tlsutil.CertFile)
	s := &Stack{Srv: srv, Wiring: w}

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	d, err := mailstack.StartDovecot(ctx, w, mailstack.DovecotOptions{Dir: filepath.Join(dir, "dovecot"), FailureDelay: "0"})
	if err != nil {
		t.Fatalf("start Dovecot: %v", err)
	}
	s.Dovecot = d
	t.Cleanup(func() {
		d.Stop()
		if t.Failed() {
			t.Logf("Dovecot log:\n%s", d.Log(60))
		}
	})
	if o.Roundcube {
		rc, err := mailstack.StartRoundcube(ctx, w, mailstack.RoundcubeOptions{Dir: filepath.Join(dir, "roundcube"),
			Port: rcPort, IMAPAddr: d.IMAPAddr, TokenURL: s.tokenProxy(t)})
		if err != nil {
			t.Fatalf("start Roundcube: %v", err)
		}
		s.Roundcube = rc
		t.Cleanup(func() {
			rc.Stop()
			if t.Failed() {
				t.Logf("Roundcube logs:\n%s", rc.Log(40))
			}
		})
	}
	return s
}
