// Package crashtest kills a real uapid process (the binary built from
// ./cmd/uapid) with SIGKILL in the middle of a load of session creations and
// logins, restarts it on the same data directory and checks that nothing
// answered before the crash was lost or can be replayed, that the SQLite
// store is intact and that no temporary database user leaks.
package crashtest

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/uapid/uapid/internal/tlsutil"
)

// moduleRoot walks up from the working directory to the directory holding
// go.mod.
func moduleRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the working directory")
		}
		dir = parent
	}
}

// buildUapid builds ./cmd/uapid into a temporary directory.
func buildUapid(t testing.TB) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to build uapid: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "uapid")
	cmd := exec.Command(goBin, "build", "-o", bin, "./cmd/uapid")
	cmd.Dir = moduleRoot(t)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/uapid: %v\n%s", err, out)
	}
	return bin
}

// syncBuffer is a goroutine-safe buffer for a child's output.
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

// tail returns the last n bytes of the output, for failure messages.
func (s *syncBuffer) tail(n int) string {
	str := s.String()
	if len(str) > n {
		return "…" + str[len(str)-n:]
	}
	return str
}

// proc is a running `uapid serve`.
type proc struct {
	t      testing.TB
	cmd    *exec.Cmd
	addrs  map[string]string // "cpaneld", "webmaild", "whostmgrd" → host:port
	stderr *syncBuffer
	done   chan struct{}
	err    error // Wait's result, valid after done
}

var listeningRE = regexp.MustCompile(`^listening service=(\S+) tls=(true|false) addr=(\S+)$`)

// childEnv is the test's environment without UAPID_* variables, so that
// only the flags configure the child.
func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "UAPID_") {
			env = append(env, kv)
		}
	}
	return env
}

// startUapid runs `uapid serve` on loopback ports :0 and waits for its three
// TLS "listening" lines.
func startUapid(t testing.TB, bin string, args ...string) *proc {
	t.Helper()
	full := append([]string{"serve", "--hostname", "localhost",
		"--cpanel-addr", "127.0.0.1:0", "--webmail-addr", "127.0.0.1:0", "--whm-addr", "127.0.0.1:0"}, args...)
	cmd := exec.Command(bin, full...)
	cmd.Env = childEnv()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &proc{t: t, cmd: cmd, addrs: map[string]string{}, stderr: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start uapid: %v", err)
	}
	type listen struct{ service, addr string }
	found := make(chan listen, 16)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := listeningRE.FindStringSubmatch(sc.Text()); m != nil && m[2] == "true" {
				select {
				case found <- listen{m[1], m[3]}:
				default:
				}
			}
		}
		io.Copy(io.Discard, stdout)
		// Wait only after stdout reached EOF, as os/exec requires.
		p.err = cmd.Wait()
		close(p.done)
	}()
	deadline := time.After(60 * time.Second)
	for len(p.addrs) < 3 {
		select {
		case l := <-found:
			p.addrs[l.service] = l.addr
		case <-p.done:
			t.Fatalf("uapid exited before listening (%v):\n%s", p.err, p.stderr.tail(4000))
		case <-deadline:
			p.kill()
			t.Fatalf("uapid did not listen within 60s:\n%s", p.stderr.tail(4000))
		}
	}
	t.Cleanup(p.kill)
	return p
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *proc) kill() {
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// stop sends SIGTERM and returns the exit code (SPEC §9: drain, exit 0).
func (p *proc) stop() int {
	p.t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(45 * time.Second):
		p.kill()
		p.t.Fatalf("uapid did not stop within 45s of SIGTERM:\n%s", p.stderr.tail(4000))
	}
	var ee *exec.ExitError
	switch {
	case p.err == nil:
		return 0
	case errors.As(p.err, &ee):
		return ee.ExitCode()
	}
	return -1
}

func (p *proc) url(service, path string) string {
	return "https://" + p.addrs[service] + path
}

// httpClient trusts the certificate generated into dataDir and does not
// follow redirects or keep cookies (the tests handle cookies themselves).
func httpClient(t testing.TB, dataDir string) *http.Client {
	t.Helper()
	pem, err := os.ReadFile(filepath.Join(dataDir, tlsutil.CertFile))
	if err != nil {
		t.Fatalf("read the generated certificate: %v", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatal("the generated certificate does not parse")
	}
	return &http.Client{
		Timeout: 20 * time.Second,
		Transport: &http.Transport{
			TLSClientConfig:     &tls.Config{RootCAs: pool, ServerName: "localhost"},
			MaxIdleConnsPerHost: 64,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}
