package cli_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/uapid/uapid/internal/cli"
	"github.com/uapid/uapid/internal/testserver"
)

// result is what one command run produced.
type result struct {
	code           int
	stdout, stderr string
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\n--- stdout:\n%s--- stderr:\n%s", r.code, r.stdout, r.stderr)
}

// run runs an entry point in-process with stdin and an environment that
// holds only env (the test process's own UAPID_* variables never leak in).
func run(t *testing.T, main func([]string, *cli.Env) int, stdin string, env map[string]string, args ...string) result {
	t.Helper()
	var out, errb strings.Builder
	e := &cli.Env{
		Stdin:  strings.NewReader(stdin),
		Stdout: &out,
		Stderr: &errb,
		Getenv: func(k string) string { return env[k] },
	}
	code := main(args, e)
	return result{code, out.String(), errb.String()}
}

// uapid runs `uapid args…` with empty stdin and no environment.
func uapid(t *testing.T, args ...string) result {
	t.Helper()
	return run(t, cli.Main, "", nil, args...)
}

// writeFile writes content into a new file in a temporary directory.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// importedDir returns a new data directory holding testserver.Fixture.
func importedDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	fx := writeFile(t, "fixture.yaml", testserver.Fixture)
	if r := uapid(t, "import", "--data", dir, fx); r.code != 0 {
		t.Fatalf("uapid import: %s", r)
	}
	return dir
}

// oneLine asserts that r failed with exit code want, printed nothing on
// standard output and exactly one line starting with "uapid: " on standard
// error; it returns that line.
func oneLine(t *testing.T, r result, want int) string {
	t.Helper()
	if r.code != want {
		t.Errorf("exit code %d, want %d\n%s", r.code, want, r)
	}
	if r.stdout != "" {
		t.Errorf("stdout not empty: %q", r.stdout)
	}
	if !strings.HasSuffix(r.stderr, "\n") || strings.Count(r.stderr, "\n") != 1 || !strings.HasPrefix(r.stderr, "uapid: ") {
		t.Errorf("stderr is not one line starting with \"uapid: \": %q", r.stderr)
	}
	return strings.TrimSuffix(r.stderr, "\n")
}

// serveResult runs `uapid serve args…` and expects it to fail before it
// listens; if it starts anyway, it is stopped and the test fails.
func serveResult(t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	var out, errb syncBuilder
	ready, stop := make(chan struct{}), make(chan struct{})
	e := &cli.Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb,
		Getenv: func(k string) string { return env[k] }, Ready: ready, Stop: stop}
	done := make(chan int, 1)
	go func() { done <- cli.Main(append([]string{"serve"}, args...), e) }()
	select {
	case code := <-done:
		return result{code, out.String(), errb.String()}
	case <-ready:
		close(stop)
		code := <-done
		t.Errorf("uapid serve %q started, want a failure", args)
		return result{code, out.String(), errb.String()}
	case <-time.After(60 * time.Second):
		close(stop)
		t.Fatalf("uapid serve %q neither failed nor started in 60s", args)
		return result{}
	}
}

// syncBuilder is a strings.Builder safe for concurrent writes.
type syncBuilder struct{ b testserver.SyncBuffer }

func (s *syncBuilder) Write(p []byte) (int, error) { return s.b.Write(p) }
func (s *syncBuilder) String() string              { return s.b.String() }
