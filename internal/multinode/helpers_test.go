package multinode

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"

	"github.com/uapid/uapid/internal/secretbox"
	"github.com/uapid/uapid/internal/store/redisstore/redistest"
	"github.com/uapid/uapid/internal/store/sqlstore/pgtest"
	"github.com/uapid/uapid/internal/testserver"
	"github.com/uapid/uapid/internal/tlsutil"
)

// ---------------------------------------------------------------------------
// Shared stores.

// variant is one way of sharing state between nodes.
type variant struct {
	name string
	// sharedLedger: the temporary-user ledger is shared too (it lives in
	// the --store), so a session ending on any node drops its user at once.
	sharedLedger bool
	// setup prepares an empty shared store and returns the flags every
	// node of one cluster gets.
	setup func(t *testing.T) []string
}

var variants = []variant{
	{"postgres", true, func(t *testing.T) []string {
		return []string{"--store", pgtest.Schema(t, pgtest.NewDatabase(t))}
	}},
	{"redis+postgres", true, func(t *testing.T) []string {
		return []string{"--store", pgtest.Schema(t, pgtest.NewDatabase(t)), "--session-store", redisURL(t)}
	}},
	{"redis+sqlite", false, func(t *testing.T) []string {
		return []string{"--session-store", redisURL(t)}
	}},
}

// redisURL returns the test Redis with a fresh key prefix.
func redisURL(t *testing.T) string {
	u, err := url.Parse(redistest.URL())
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("prefix", redistest.Namespace(t))
	u.RawQuery = q.Encode()
	return u.String()
}

// cluster is the common configuration of nodes that share a store.
type cluster struct {
	args []string
	env  map[string]string
}

// baseArgs are given to every node: brute-force protection is off for
// loopback, as the concurrency tests fail logins on purpose.
var baseArgs = []string{"--bruteforce-allow", "127.0.0.0/8", "--sweep-interval", "1s"}

// flag returns the value of a flag of the cluster ("" when not given).
func (c *cluster) flag(name string) string {
	for i := 0; i+1 < len(c.args); i++ {
		if c.args[i] == name {
			return c.args[i+1]
		}
	}
	return ""
}

func newCluster(t *testing.T, v variant, extra ...string) *cluster {
	t.Helper()
	key := base64.StdEncoding.EncodeToString(secretbox.NewKey())
	args := append(append(append([]string{}, baseArgs...), v.setup(t)...), extra...)
	return &cluster{args: args, env: map[string]string{"UAPID_SECRET_KEY": key}}
}

// ---------------------------------------------------------------------------
// Nodes.

// node is a running uapid: in-process (testserver) or a child process.
type node struct {
	name  string
	addrs map[string]string
	roots *x509.CertPool
	cmd   *exec.Cmd // nil in-process
	out   *syncBuffer
}

func (n *node) url(service, path string) string { return "https://" + n.addrs[service] + path }

// start runs a node in-process with the default fixture (plus more
// fixture text, if given).
func (c *cluster) start(t *testing.T, name, moreFixture string) *node {
	t.Helper()
	srv := testserver.Start(t, testserver.Options{Args: c.args, Env: c.env, Fixture: testserver.Fixture + moreFixture})
	return &node{name: name, addrs: srv.Addrs, roots: srv.RootCAs}
}

// client returns a client that trusts every node's certificate and keeps
// one cookie jar for all of them, as a browser behind a load balancer
// does; it does not follow redirects.
func client(nodes ...*node) *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{
		Timeout:   30 * time.Second,
		Jar:       jar,
		Transport: &multiRootTransport{nodes: nodes, base: map[string]*http.Transport{}},
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// multiRootTransport sends each request through a transport that trusts
// the certificate of the node it goes to.
type multiRootTransport struct {
	mu    sync.Mutex
	nodes []*node
	base  map[string]*http.Transport
}

func (m *multiRootTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	m.mu.Lock()
	tr, ok := m.base[req.URL.Host]
	if !ok {
		for _, n := range m.nodes {
			for _, a := range n.addrs {
				if a == req.URL.Host {
					tr = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: n.roots, ServerName: "localhost"},
						MaxIdleConnsPerHost: 64}
				}
			}
		}
		if tr == nil {
			m.mu.Unlock()
			return nil, fmt.Errorf("no node listens on %s", req.URL.Host)
		}
		m.base[req.URL.Host] = tr
	}
	m.mu.Unlock()
	return tr.RoundTrip(req)
}

type response struct {
	*http.Response
	body []byte
}

func (r *response) json(t testing.TB) map[string]any {
	t.Helper()
	var v map[string]any
	d := json.NewDecoder(bytes.NewReader(r.body))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		t.Fatalf("response is not a JSON object (%v): %s", err, r.body)
	}
	return v
}

// send performs a request and reads the whole answer.
func send(cl *http.Client, method, u, authz string, form url.Values) (*response, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		return nil, err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	resp, err := cl.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	return &response{Response: resp, body: b}, nil
}

func do(t testing.TB, cl *http.Client, method, u, authz string, form url.Values) *response {
	t.Helper()
	r, err := send(cl, method, u, authz, form)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	return r
}

var aliceToken = testserver.CPanelToken("alice", testserver.AliceToken)

// webmailSession is a created, not yet used, Webmail login.
type webmailSession struct{ token, session string }

// createWebmail creates a Webmail session for info@alice.test on n.
func createWebmail(cl *http.Client, n *node) (webmailSession, error) {
	r, err := send(cl, "GET", n.url("cpaneld", "/execute/Session/create_webmail_session_for_mail_user?login=info&domain=alice.test"), aliceToken, nil)
	if err != nil {
		return webmailSession{}, err
	}
	var v struct {
		Status int `json:"status"`
		Data   struct {
			Token, Session string
		} `json:"data"`
	}
	if r.StatusCode != 200 || json.Unmarshal(r.body, &v) != nil || v.Status != 1 || v.Data.Session == "" {
		return webmailSession{}, fmt.Errorf("create on %s: HTTP %d: %s", n.name, r.StatusCode, r.body)
	}
	return webmailSession{token: v.Data.Token, session: v.Data.Session}, nil
}

func mustCreateWebmail(t testing.TB, cl *http.Client, n *node) webmailSession {
	t.Helper()
	s, err := createWebmail(cl, n)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// login posts the session to n's Webmail login URL.
func login(t testing.TB, cl *http.Client, n *node, s webmailSession, extra ...string) *response {
	t.Helper()
	form := url.Values{"session": {s.session}}
	for i := 0; i+1 < len(extra); i += 2 {
		form.Set(extra[i], extra[i+1])
	}
	return do(t, cl, "POST", n.url("webmaild", s.token+"/login/"), "", form)
}

// ---------------------------------------------------------------------------
// uapid as a child process.

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
	binDir    string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// uapidBinary builds ./cmd/uapid once per test run.
func uapidBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		root, err := moduleRoot()
		if err != nil {
			buildErr = err
			return
		}
		if binDir, err = os.MkdirTemp("", "uapid-multinode-"); err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(binDir, "uapid")
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/uapid")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/uapid: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("go.mod not found above the working directory")
		}
		dir = parent
	}
}

var listenRE = regexp.MustCompile(`^listening service=(\S+) tls=true addr=(\S+)$`)

// startProcs starts n uapid processes at the same moment (each with its
// own data directory and the default fixture) and waits until all listen.
// They get SIGTERM when the test ends, unless they were killed before.
func (c *cluster) startProcs(t *testing.T, names ...string) []*node {
	t.Helper()
	bin := uapidBinary(t)
	fx := filepath.Join(t.TempDir(), "fixture.yaml")
	if err := os.WriteFile(fx, []byte(testserver.Fixture), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "UAPID_") {
			env = append(env, kv)
		}
	}
	for k, v := range c.env {
		env = append(env, k+"="+v)
	}
	nodes := make([]*node, len(names))
	ready := make([]chan error, len(names))
	for i, name := range names {
		args := append([]string{"serve", "--data", t.TempDir(), "--fixture", fx, "--hostname", "localhost",
			"--cpanel-addr", "127.0.0.1:0", "--webmail-addr", "127.0.0.1:0", "--whm-addr", "127.0.0.1:0"}, c.args...)
		cmd := exec.Command(bin, args...)
		cmd.Env = env
		out := &syncBuffer{}
		cmd.Stderr = out
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		n := &node{name: name, addrs: map[string]string{}, cmd: cmd, out: out}
		nodes[i] = n
		ready[i] = make(chan error, 1)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		dataDir := args[2]
		t.Cleanup(func() { stopProc(t, n) })
		go func(ch chan error) {
			// n.addrs and n.roots are written here only, before ch
			// reports; the test reads them after.
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				line := sc.Text()
				out.Write([]byte(line + "\n"))
				if m := listenRE.FindStringSubmatch(line); m != nil {
					n.addrs[m[1]] = m[2]
					if len(n.addrs) == 3 {
						pem, err := os.ReadFile(filepath.Join(dataDir, tlsutil.CertFile))
						n.roots = x509.NewCertPool()
						if err == nil && !n.roots.AppendCertsFromPEM(pem) {
							err = errors.New("generated certificate does not parse")
						}
						ch <- err
					}
				}
			}
			ch <- fmt.Errorf("exited before listening")
			io.Copy(io.Discard, stdout)
		}(ready[i])
	}
	for i, n := range nodes {
		select {
		case err := <-ready[i]:
			if err != nil {
				t.Fatalf("node %s: %v:\n%s", n.name, err, n.out.String())
			}
		case <-time.After(60 * time.Second):
			t.Fatalf("node %s did not start in 60s:\n%s", n.name, n.out.String())
		}
	}
	return nodes
}

// kill ends a process node abruptly (SIGKILL): no draining, no cleanup.
func kill(t testing.TB, n *node) {
	t.Helper()
	if err := n.cmd.Process.Kill(); err != nil {
		t.Fatalf("kill %s: %v", n.name, err)
	}
	n.cmd.Wait()
}

func stopProc(t testing.TB, n *node) {
	if n.cmd.ProcessState != nil {
		return // already waited for (killed)
	}
	n.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { n.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(40 * time.Second):
		n.cmd.Process.Kill()
		<-done
		t.Errorf("node %s did not stop on SIGTERM in 40s", n.name)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// ---------------------------------------------------------------------------
// MariaDB, for temporary users.

func mysqlDSN() string {
	if v := os.Getenv("UAPID_TEST_MYSQL_DSN"); v != "" {
		return v
	}
	return "root@tcp(127.0.0.1:3306)/"
}

// needMySQL connects to the test MariaDB (or skips/fails).
func needMySQL(t *testing.T) *sql.DB {
	t.Helper()
	db, err := sql.Open("mysql", mysqlDSN())
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err = db.PingContext(ctx)
		cancel()
	}
	if err != nil {
		pgtest.Unreachable(t, "MariaDB (UAPID_TEST_MYSQL_DSN)", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func mysqlUserExists(t testing.TB, db *sql.DB, name string) bool {
	t.Helper()
	var n int
	if err := db.QueryRow(`SELECT COUNT(*) FROM mysql.user WHERE User = ?`, name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n > 0
}
