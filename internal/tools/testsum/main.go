// Command testsum runs `go test -json` and prints what `go test` prints,
// followed by a summary that says what ran: packages passed and failed,
// tests passed, failed and skipped, and every skipped test with its skip
// message, so that "all green" also says what did not run.
//
// Usage, from the repository (the README's test command):
//
//	go run ./internal/tools/testsum -race ./...
//
// Every argument goes to `go test` as it is (with -json added); without
// arguments testsum runs `go test -json -race ./...`. The output is that of
// `go test` without -v: a line per package, and the output of failing
// tests; with -v, every test's output as it comes. Build errors go to
// standard error. The exit code is go test's.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
)

func main() {
	os.Exit(run(os.Args[1:], "", os.Stdout, os.Stderr))
}

// run runs go test in dir ("" is the current directory) and returns the
// exit code.
func run(args []string, dir string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		args = []string{"-race", "./..."}
	}
	// go test's standard error and the build errors testsum prints go to
	// the same writer, from two goroutines when it is not a file.
	stderr = &lockedWriter{w: stderr}
	cmd := exec.Command("go", append([]string{"test", "-json"}, args...)...)
	cmd.Dir = dir
	cmd.Stderr = stderr
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		fmt.Fprintln(stderr, "testsum:", err)
		return 1
	}
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(stderr, "testsum:", err)
		return 1
	}
	s := newSummary(stdout, stderr, slices.Contains(args, "-v") || slices.Contains(args, "-test.v"))
	sc := bufio.NewScanner(pipe)
	sc.Buffer(make([]byte, 64*1024), 64*1024*1024)
	for sc.Scan() {
		s.line(sc.Bytes())
	}
	if err := sc.Err(); err != nil {
		fmt.Fprintln(stderr, "testsum: reading go test's output:", err)
	}
	err = cmd.Wait()
	code := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
		if code < 0 { // killed by a signal
			code = 1
		}
	case err != nil:
		fmt.Fprintln(stderr, "testsum:", err)
		code = 1
	}
	s.finish()
	s.report(code)
	return code
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// event is one line of `go test -json` (cmd/test2json), including the
// build events of Go 1.24 and later.
type event struct {
	Action     string
	Package    string
	Test       string
	Output     string
	ImportPath string
}

type testKey struct{ pkg, test string }

type skipped struct {
	key testKey
	msg string
}

// summary follows the events and counts what ran.
type summary struct {
	out, errw io.Writer
	verbose   bool

	// buf holds the output of each running test until it ends: printed
	// when a test fails (a failing subtest's output moves to its parent),
	// dropped when it passes, kept as the message when it is skipped.
	buf   map[testKey][]string
	order []testKey // running tests in start order, for finish

	pkgOK, pkgNoTests int
	pkgFailed         []string
	passed            int
	failed            []testKey
	skips             []skipped
}

func newSummary(out, errw io.Writer, verbose bool) *summary {
	return &summary{out: out, errw: errw, verbose: verbose, buf: map[testKey][]string{}}
}

// line handles one line of go test's standard output.
func (s *summary) line(b []byte) {
	var e event
	if len(b) == 0 || b[0] != '{' || json.Unmarshal(b, &e) != nil {
		fmt.Fprintf(s.out, "%s\n", b) // not an event: pass it on
		return
	}
	s.event(e)
}

func (s *summary) event(e event) {
	switch e.Action {
	case "build-output":
		io.WriteString(s.errw, e.Output)
		return
	case "start", "build-fail", "pause", "cont", "bench":
		return
	}
	if e.Test == "" {
		s.packageEvent(e)
		return
	}
	k := testKey{e.Package, e.Test}
	switch e.Action {
	case "run":
		if _, ok := s.buf[k]; !ok {
			s.order = append(s.order, k)
		}
		s.buf[k] = nil
	case "output":
		if s.verbose {
			io.WriteString(s.out, e.Output)
		}
		if _, ok := s.buf[k]; !ok {
			s.order = append(s.order, k)
		}
		s.buf[k] = append(s.buf[k], e.Output)
	case "pass":
		s.passed++
		s.end(k)
	case "skip":
		s.skips = append(s.skips, skipped{k, skipMessage(s.buf[k])})
		s.end(k)
	case "fail":
		s.failed = append(s.failed, k)
		lines := s.buf[k]
		s.end(k)
		if i := strings.LastIndex(k.test, "/"); i > 0 {
			parent := testKey{k.pkg, k.test[:i]}
			if _, ok := s.buf[parent]; ok {
				s.buf[parent] = append(s.buf[parent], lines...)
				return
			}
		}
		s.print(lines)
	}
}

func (s *summary) packageEvent(e event) {
	switch e.Action {
	case "output":
		if e.Output == "PASS\n" && !s.verbose {
			return // go test prints it only with -v
		}
		io.WriteString(s.out, e.Output)
	case "pass":
		s.pkgOK++
		s.flush(e.Package)
	case "fail":
		s.pkgFailed = append(s.pkgFailed, e.Package)
		s.flush(e.Package)
	case "skip":
		s.pkgNoTests++
		s.flush(e.Package)
	}
}

// end forgets the output of a test that ended.
func (s *summary) end(k testKey) {
	delete(s.buf, k)
	s.order = slices.DeleteFunc(s.order, func(o testKey) bool { return o == k })
}

// flush prints the output of tests of pkg that never ended (a panic or a
// timeout ends the test binary before the test does).
func (s *summary) flush(pkg string) {
	for _, k := range slices.Clone(s.order) {
		if k.pkg == pkg {
			s.print(s.buf[k])
			s.end(k)
		}
	}
}

func (s *summary) finish() {
	for _, k := range slices.Clone(s.order) {
		s.print(s.buf[k])
		s.end(k)
	}
}

// print writes a test's output without test2json's framing lines (with
// -v, everything was printed as it came).
func (s *summary) print(lines []string) {
	if s.verbose {
		return
	}
	for _, l := range lines {
		if !framing(l) {
			io.WriteString(s.out, l)
		}
	}
}

// framing reports whether l is one of the "=== RUN" style lines that
// go test prints only with -v.
func framing(l string) bool {
	for _, p := range []string{"=== RUN", "=== PAUSE", "=== CONT", "=== NAME"} {
		if strings.HasPrefix(l, p) {
			return true
		}
	}
	return false
}

// skipMessage is the output of a skipped test without the framing and the
// "--- SKIP" line, on one line.
func skipMessage(lines []string) string {
	var parts []string
	for _, l := range lines {
		t := strings.TrimSpace(l)
		if t == "" || framing(l) || strings.HasPrefix(t, "--- SKIP") {
			continue
		}
		parts = append(parts, t)
	}
	if len(parts) == 0 {
		return "(no message)"
	}
	return strings.Join(parts, " / ")
}

// report prints the summary.
func (s *summary) report(code int) {
	var b bytes.Buffer
	fmt.Fprintf(&b, "\n== summary (go test exit code %d)\n", code)
	fmt.Fprintf(&b, "packages: %d ok, %d failed, %d without tests\n", s.pkgOK, len(s.pkgFailed), s.pkgNoTests)
	fmt.Fprintf(&b, "tests (with subtests): %d passed, %d failed, %d skipped\n", s.passed, len(s.failed), len(s.skips))
	if len(s.skips) > 0 {
		fmt.Fprintf(&b, "skipped:\n")
		for _, sk := range s.skips {
			fmt.Fprintf(&b, "  %s %s: %s\n", sk.key.pkg, sk.key.test, sk.msg)
		}
	}
	if len(s.failed) > 0 {
		fmt.Fprintf(&b, "failed tests:\n")
		for _, k := range s.failed {
			fmt.Fprintf(&b, "  %s %s\n", k.pkg, k.test)
		}
	}
	if len(s.pkgFailed) > 0 {
		fmt.Fprintf(&b, "failed packages:\n")
		for _, p := range s.pkgFailed {
			fmt.Fprintf(&b, "  %s\n", p)
		}
	}
	s.out.Write(b.Bytes())
}
