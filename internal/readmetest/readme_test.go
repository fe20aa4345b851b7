package readmetest

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unicode"

	"github.com/uapid/uapid/internal/fixture"
	"github.com/uapid/uapid/internal/testutil"
)

// moduleRoot is the directory holding go.mod.
func moduleRoot(t *testing.T) string {
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

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// block is one fenced code block of a Markdown file.
type block struct {
	line   int    // of the opening fence, from 1
	lang   string // the info string's first word
	body   []string
	marker string // "", "server", "not run" or "fixture"
	reason string // of "not run"
}

func (b block) shell() bool { return b.lang == "sh" || b.lang == "bash" || b.lang == "shell" }

var (
	fenceRE  = regexp.MustCompile("^```\\s*(\\S*)")
	markerRE = regexp.MustCompile(`^<!-- readme-test: (server|fixture|not run: (\S.*?)) -->$`)
)

// parseBlocks returns the fenced blocks of text with their markers.
func parseBlocks(text string) ([]block, error) {
	var out []block
	lines := strings.Split(text, "\n")
	marker, reason, markerLine := "", "", 0
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if strings.Contains(l, "readme-test:") {
			m := markerRE.FindStringSubmatch(l)
			if m == nil {
				return nil, fmt.Errorf("line %d: %q is not a readme-test marker (server, fixture, not run: REASON)", i+1, l)
			}
			marker, reason, markerLine = m[1], m[2], i+1
			if reason != "" {
				marker = "not run"
			}
			continue
		}
		m := fenceRE.FindStringSubmatch(l)
		if m == nil {
			if marker != "" {
				return nil, fmt.Errorf("line %d: the readme-test marker is not directly followed by a code block", markerLine)
			}
			continue
		}
		b := block{line: i + 1, lang: m[1], marker: marker, reason: reason}
		marker, reason = "", ""
		for i++; i < len(lines) && strings.TrimSpace(lines[i]) != "```"; i++ {
			b.body = append(b.body, lines[i])
		}
		if i == len(lines) {
			return nil, fmt.Errorf("line %d: code block not closed", b.line)
		}
		out = append(out, b)
	}
	return out, nil
}

// step is one command of a shell example with its documented output.
type step struct {
	line int
	cmd  string
	want []string // nil: no documented output
}

var heredocRE = regexp.MustCompile(`(^|[^<])<<-?\s*['"]?[A-Za-z_]`)

// parseSteps splits a shell example into commands (see the package
// documentation).
func parseSteps(b block) ([]step, error) {
	var out []step
	cur := -1          // index in out of the command that output lines belong to
	continued := false // the previous command line ended in a backslash
	for i, l := range b.body {
		line := b.line + 1 + i
		switch {
		case continued:
			out[len(out)-1].cmd += "\n" + l
		case strings.TrimSpace(l) == "":
			cur = -1
		case strings.HasPrefix(strings.TrimSpace(l), "#"):
			if cur >= 0 {
				t := strings.TrimPrefix(strings.TrimSpace(l), "#")
				out[cur].want = append(out[cur].want, strings.TrimPrefix(t, " "))
			}
		default:
			if heredocRE.MatchString(l) {
				return nil, fmt.Errorf("line %d: heredocs are not supported in README examples (use <<<)", line)
			}
			out = append(out, step{line: line, cmd: l})
			cur = len(out) - 1
		}
		if strings.TrimSpace(l) != "" && !strings.HasPrefix(strings.TrimSpace(l), "#") || continued {
			continued = strings.HasSuffix(l, "\\")
		}
	}
	if continued {
		return nil, fmt.Errorf("line %d: the last command ends in a backslash", b.line+len(b.body))
	}
	return out, nil
}

// matches reports whether got is the documented output want: "…" stands
// for any text; whitespace is ignored.
func matches(want []string, got string) bool {
	strip := func(s string) string { return strings.Join(strings.Fields(s), "") }
	parts := strings.Split(strip(strings.Join(want, "\n")), "…")
	for i, p := range parts {
		parts[i] = regexp.QuoteMeta(p)
	}
	return regexp.MustCompile("^(?s:" + strings.Join(parts, ".*") + ")$").MatchString(strip(got))
}

// defaultPorts are the ports the README's URLs name, by service.
var defaultPorts = map[string]string{"cpaneld": "2083", "webmaild": "2096", "whostmgrd": "2087"}

var goRunRE = regexp.MustCompile(`go run \./cmd/(uapid|uapi|whmapi1)\b`)

// substitute turns a README command (or documented output) into what runs
// here: the built binaries instead of go run, the server's ports instead
// of the defaults.
func substitute(s string, ports map[string]string) string {
	s = goRunRE.ReplaceAllString(s, "$1")
	for service, def := range defaultPorts {
		if p := ports[service]; p != "" {
			s = strings.ReplaceAll(s, "127.0.0.1:"+def, "127.0.0.1:"+p)
		}
	}
	return s
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

// run is one run of the README: the built binaries, the directory the
// examples run in, their environment and the server.
type run struct {
	t        *testing.T
	bin      string
	work     string
	env      []string
	ports    map[string]string
	vars     map[string]string
	srvOut   *syncBuffer
	srvErr   *syncBuffer
	shDir    string
	scriptNo int
}

// build compiles the three commands into a temporary directory.
func build(t *testing.T, root string) string {
	t.Helper()
	bin := t.TempDir()
	cmd := exec.Command("go", "build", "-o", bin+string(filepath.Separator), "./cmd/uapid", "./cmd/uapi", "./cmd/whmapi1")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// baseEnv is the environment of the examples: the built binaries first in
// PATH, a private HOME (no ~/.curlrc), and none of the test process's
// UAPID_ variables.
func baseEnv(bin, home string) []string {
	env := []string{"PATH=" + bin + string(os.PathListSeparator) + os.Getenv("PATH"), "HOME=" + home, "LC_ALL=C.UTF-8"}
	if tmp := os.Getenv("TMPDIR"); tmp != "" {
		env = append(env, "TMPDIR="+tmp)
	}
	return env
}

var (
	listenRE = regexp.MustCompile(`(?m)^listening service=(\S+) tls=true addr=\S+:(\d+)$`)
	exportRE = regexp.MustCompile(`(?m)^export (.+)$`)
)

// startServer runs the server block's command in the background and reads
// the ports and the exported variables from its banner.
func (r *run) startServer(b block) {
	t := r.t
	steps, err := parseSteps(b)
	if err != nil {
		t.Fatalf("README line %d: %v", b.line, err)
	}
	if len(steps) != 1 {
		t.Fatalf("README line %d: the server block has %d commands, want 1", b.line, len(steps))
	}
	cmd := exec.Command("bash", "-c", "exec "+substitute(steps[0].cmd, nil))
	cmd.Dir = r.work
	cmd.Env = append(append([]string{}, r.env...),
		"UAPID_CPANEL_ADDR=127.0.0.1:0", "UAPID_WEBMAIL_ADDR=127.0.0.1:0", "UAPID_WHM_ADDR=127.0.0.1:0")
	r.srvOut, r.srvErr = &syncBuffer{}, &syncBuffer{}
	cmd.Stdout, cmd.Stderr = r.srvOut, r.srvErr
	if err := cmd.Start(); err != nil {
		t.Fatalf("README line %d: %v", b.line, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("the server (README line %d) did not stop cleanly: %v\n%s", b.line, err, r.srvErr.String())
			}
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			t.Errorf("the server (README line %d) did not stop on SIGTERM", b.line)
		}
	})
	deadline := time.After(60 * time.Second)
	for !strings.Contains(r.srvErr.String(), `msg="uapid started"`) {
		select {
		case err := <-exited:
			t.Fatalf("the server (README line %d) exited: %v\n%s%s", b.line, err, r.srvOut.String(), r.srvErr.String())
		case <-deadline:
			t.Fatalf("the server (README line %d) did not start in 60 s\n%s%s", b.line, r.srvOut.String(), r.srvErr.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	out := r.srvOut.String()
	r.ports = map[string]string{}
	for _, m := range listenRE.FindAllStringSubmatch(out, -1) {
		r.ports[m[1]] = m[2]
	}
	r.vars = map[string]string{}
	for _, m := range exportRE.FindAllStringSubmatch(out, -1) {
		for _, kv := range strings.Fields(m[1]) {
			k, v, ok := strings.Cut(kv, "=")
			if !ok || strings.ContainsAny(v, `'"$\`) {
				t.Fatalf("banner export %q: %q is not NAME=value without quoting", m[0], kv)
			}
			r.vars[k] = v
		}
	}
	if len(r.ports) != 3 || len(r.vars) == 0 {
		t.Fatalf("the server's output has no listening lines or no export lines:\n%s", out)
	}
}

// runBlock runs the steps of a shell example in one bash process and checks
// each step's exit status and documented output.
func (r *run) runBlock(b block) {
	t := r.t
	steps, err := parseSteps(b)
	if err != nil {
		t.Fatalf("README line %d: %v", b.line, err)
	}
	r.scriptNo++
	dir := filepath.Join(r.shDir, strconv.Itoa(r.scriptNo))
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	var script strings.Builder
	for i, s := range steps {
		out, rc := filepath.Join(dir, fmt.Sprintf("out.%d", i)), filepath.Join(dir, fmt.Sprintf("rc.%d", i))
		fmt.Fprintf(&script, "{\n%s\n} >%s 2>&1 </dev/null\nrc=$?; echo $rc >%s; [ $rc -eq 0 ] || exit 0\n",
			substitute(s.cmd, r.ports), strconv.Quote(out), strconv.Quote(rc))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", script.String())
	cmd.Dir = r.work
	cmd.Env = append([]string{}, r.env...)
	for k, v := range r.vars {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("README line %d: bash: %v\n%s", b.line, err, out)
	}
	for i, s := range steps {
		rc, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("rc.%d", i)))
		if err != nil {
			t.Errorf("README line %d: not run (an earlier command failed):\n%s", s.line, s.cmd)
			continue
		}
		got := readFile(t, filepath.Join(dir, fmt.Sprintf("out.%d", i)))
		if code := strings.TrimSpace(string(rc)); code != "0" {
			t.Errorf("README line %d: exit status %s:\n%s\n--- output:\n%s", s.line, code, s.cmd, got)
			continue
		}
		if s.want == nil {
			continue
		}
		want := strings.Split(substitute(strings.Join(s.want, "\n"), r.ports), "\n")
		if !matches(want, got) {
			t.Errorf("README line %d: the output does not match the README:\n%s\n--- README says:\n%s\n--- output:\n%s",
				s.line, s.cmd, strings.Join(want, "\n"), got)
		}
	}
}

// TestReadmeExamples runs every shell example of README.md as the package
// documentation describes.
func TestReadmeExamples(t *testing.T) {
	for _, tool := range []string{"bash", "curl", "sed"} {
		testutil.RequireTool(t, tool)
	}
	root := moduleRoot(t)
	blocks, err := parseBlocks(readFile(t, filepath.Join(root, "README.md")))
	if err != nil {
		t.Fatalf("README.md: %v", err)
	}
	r := &run{t: t, bin: build(t, root), work: t.TempDir(), shDir: t.TempDir()}
	r.env = baseEnv(r.bin, t.TempDir())
	var notRun []string
	for _, b := range blocks {
		switch {
		case b.marker == "fixture":
			if b.lang != "yaml" {
				t.Errorf("README line %d: the fixture marker is on a %q block, want yaml", b.line, b.lang)
				continue
			}
			if _, err := fixture.Parse("README.md", []byte(strings.Join(b.body, "\n"))); err != nil {
				t.Errorf("README line %d: the fixture example does not parse: %v", b.line, err)
			}
		case !b.shell():
			if b.marker != "" {
				t.Errorf("README line %d: a readme-test marker on a %q block", b.line, b.lang)
			}
		case b.marker == "not run":
			notRun = append(notRun, fmt.Sprintf("line %d: %s", b.line, b.reason))
		case b.marker == "server":
			if r.vars != nil {
				t.Fatalf("README line %d: a second server block", b.line)
			}
			r.startServer(b)
		default:
			if r.vars == nil {
				t.Fatalf("README line %d: a shell example before the server block", b.line)
			}
			r.runBlock(b)
		}
	}
	if r.vars == nil {
		t.Fatal("README.md has no block marked <!-- readme-test: server -->")
	}
	t.Logf("shell examples not run:\n  %s", strings.Join(notRun, "\n  "))
}

// TestCIRunsReadmeTestCommand: .ci/run runs the test command the README
// shows, as it is written there.
func TestCIRunsReadmeTestCommand(t *testing.T) {
	root := moduleRoot(t)
	blocks, err := parseBlocks(readFile(t, filepath.Join(root, "README.md")))
	if err != nil {
		t.Fatal(err)
	}
	var cmds []string
	for _, b := range blocks {
		for _, l := range b.body {
			if b.shell() && strings.HasPrefix(l, "go run ./internal/tools/testsum") {
				cmds = append(cmds, strings.TrimSpace(l))
			}
		}
	}
	if len(cmds) != 1 {
		t.Fatalf("README.md shows %d test commands (go run ./internal/tools/testsum …), want 1: %q", len(cmds), cmds)
	}
	ci := readFile(t, filepath.Join(root, ".ci", "run"))
	found := false
	for _, l := range strings.Split(ci, "\n") {
		found = found || strings.TrimSpace(l) == cmds[0]
	}
	if !found {
		t.Errorf(".ci/run has no line %q (the README's test command)", cmds[0])
	}
}

// TestReadmeParser checks the step parser and the output matcher on a
// small example, so that a change to them cannot make the README test
// pass vacuously.
func TestReadmeParser(t *testing.T) {
	text := "intro\n<!-- readme-test: not run: needs the internet -->\n```sh\ngo install x@latest\n```\n" +
		"```sh\n# describe\ncurl a \\\n  b\n# {\"x\":1,\n#  \"y\":…}\n\necho hi   # inline\necho two\n# two\n```\n```go\nx := 1\n```\n"
	blocks, err := parseBlocks(text)
	if err != nil {
		t.Fatal(err)
	}
	if len(blocks) != 3 || blocks[0].marker != "not run" || blocks[0].reason != "needs the internet" || blocks[1].marker != "" || blocks[2].shell() {
		t.Fatalf("blocks = %+v", blocks)
	}
	steps, err := parseSteps(blocks[1])
	if err != nil {
		t.Fatal(err)
	}
	want := []step{
		{line: 8, cmd: "curl a \\\n  b", want: []string{`{"x":1,`, ` "y":…}`}},
		{line: 13, cmd: "echo hi   # inline"},
		{line: 14, cmd: "echo two", want: []string{"two"}},
	}
	if !reflect.DeepEqual(steps, want) {
		t.Errorf("steps = %#v\nwant %#v", steps, want)
	}
	for _, tc := range []struct {
		want []string
		got  string
		ok   bool
	}{
		{[]string{`{"x":1,`, ` "y":…}`}, `{"x":1,"y":"anything"}` + "\n", true},
		{[]string{`{"x":1,`, ` "y":…}`}, `{"x":2,"y":3}`, false},
		{[]string{"302 https://h/…/"}, "302 https://h/cpsess1/\n", true},
		{[]string{"302"}, "302 extra", false},
		{[]string{"…info@demo.test…"}, "<html>\n<p>info@demo.test</p>", true},
	} {
		if got := matches(tc.want, tc.got); got != tc.ok {
			t.Errorf("matches(%q, %q) = %t", tc.want, tc.got, got)
		}
	}
	for _, bad := range []string{"<!-- readme-test: skip -->\n```sh\nx\n```\n", "<!-- readme-test: server -->\n\n```sh\nx\n```\n", "```sh\nx\n"} {
		if _, err := parseBlocks(bad); err == nil {
			t.Errorf("parseBlocks(%q) accepted", bad)
		}
	}
	if _, err := parseSteps(block{lang: "sh", body: []string{"cat <<EOF", "x", "EOF"}}); err == nil {
		t.Error("parseSteps accepted a heredoc")
	}
	if _, err := parseSteps(block{lang: "sh", body: []string{"cat <<<'here string'"}}); err != nil {
		t.Errorf("parseSteps refused a here-string: %v", err)
	}
	if got := substitute("go run ./cmd/uapi --user=demo; curl https://127.0.0.1:2087/x", map[string]string{"whostmgrd": "4711"}); got != "uapi --user=demo; curl https://127.0.0.1:4711/x" {
		t.Errorf("substitute: %q", got)
	}
}

// TestDocLinks: README.md and the Markdown files under docs/ link only to
// files inside the repository that exist, and to headings that exist.
func TestDocLinks(t *testing.T) {
	root := moduleRoot(t)
	files := []string{filepath.Join(root, "README.md"), filepath.Join(root, "BENCHMARKS.md")}
	docs, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, docs...)
	anchors := map[string]map[string]bool{}
	headings := func(path string) map[string]bool {
		if a, ok := anchors[path]; ok {
			return a
		}
		a := headingAnchors(readFile(t, path))
		anchors[path] = a
		return a
	}
	for _, f := range files {
		rel, _ := filepath.Rel(root, f)
		for _, l := range links(readFile(t, f)) {
			if regexp.MustCompile(`^[a-z]+:`).MatchString(l.target) {
				continue // a URL
			}
			path, anchor, _ := strings.Cut(l.target, "#")
			target := f
			if path != "" {
				target = filepath.Join(filepath.Dir(f), filepath.FromSlash(path))
				inside, err := filepath.Rel(root, target)
				if err != nil || inside == ".." || strings.HasPrefix(inside, ".."+string(filepath.Separator)) {
					t.Errorf("%s:%d: link %q leaves the repository", rel, l.line, l.target)
					continue
				}
				if _, err := os.Stat(target); err != nil {
					t.Errorf("%s:%d: link %q: no such file", rel, l.line, l.target)
					continue
				}
			}
			if anchor != "" && strings.HasSuffix(target, ".md") && !headings(target)[anchor] {
				t.Errorf("%s:%d: link %q: no heading with the anchor #%s", rel, l.line, l.target, anchor)
			}
		}
	}
}

type link struct {
	line   int
	target string
}

var (
	inlineLinkRE = regexp.MustCompile(`\]\(([^)\s]+)(?:\s+"[^"]*")?\)`)
	refLinkRE    = regexp.MustCompile(`^\s*\[[^\]]+\]:\s*(\S+)`)
	codeSpanRE   = regexp.MustCompile("`[^`]*`")
)

// links returns the link targets of a Markdown text outside code.
func links(text string) []link {
	var out []link
	inFence := false
	sc := bufio.NewScanner(strings.NewReader(text))
	for n := 1; sc.Scan(); n++ {
		l := sc.Text()
		if strings.HasPrefix(strings.TrimSpace(l), "```") {
			inFence = !inFence
			continue
		}
		if inFence {
			continue
		}
		l = codeSpanRE.ReplaceAllString(l, "")
		for _, m := range inlineLinkRE.FindAllStringSubmatch(l, -1) {
			out = append(out, link{n, m[1]})
		}
		if m := refLinkRE.FindStringSubmatch(l); m != nil {
			out = append(out, link{n, m[1]})
		}
	}
	return out
}

// headingAnchors returns the anchors GitHub gives the headings of a
// Markdown text: lower case, punctuation other than "-" and "_" removed,
// spaces as "-", "-1", "-2", … for repeats.
func headingAnchors(text string) map[string]bool {
	out := map[string]bool{}
	seen := map[string]int{}
	inFence := false
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "```") {
			inFence = !inFence
		}
		if inFence || !strings.HasPrefix(l, "#") {
			continue
		}
		h := strings.TrimSpace(strings.TrimLeft(l, "#"))
		var b strings.Builder
		for _, r := range strings.ToLower(h) {
			switch {
			case unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-' || r == '_':
				b.WriteRune(r)
			case r == ' ':
				b.WriteByte('-')
			}
		}
		a := b.String()
		if n := seen[a]; n > 0 {
			out[a+"-"+strconv.Itoa(n)] = true
		} else {
			out[a] = true
		}
		seen[a]++
	}
	return out
}
