package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRun runs testsum on a throwaway module with a passing, a skipped, a
// failing test and skipped and failing subtests, a package without tests
// and one that does not build.
func TestRun(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"go.mod": "module example.com/tsum\n\ngo 1.24\n",
		"p/p_test.go": `package p

import "testing"

func TestPass(t *testing.T) { t.Log("quiet when passing") }
func TestSkip(t *testing.T) { t.Skip("no frobnicator here") }
func TestSub(t *testing.T) {
	t.Run("a", func(t *testing.T) { t.Skipf("sub skip %d", 1) })
	t.Run("b", func(t *testing.T) { t.Log("quiet too") })
	t.Run("c", func(t *testing.T) { t.Error("broken") })
}
`,
		"q/q.go":      "package q\n",
		"r/r.go":      "package r\n\nfunc F() int { return \"x\" }\n",
		"r/r_test.go": "package r\n\nimport \"testing\"\n\nfunc TestR(t *testing.T) {}\n",
	}
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var out, errb bytes.Buffer
	code := run([]string{"./..."}, dir, &out, &errb)
	if code == 0 {
		t.Errorf("exit code 0, want go test's failure")
	}
	o := out.String()
	for _, want := range []string{
		"?   \texample.com/tsum/q\t[no test files]\n",
		"p_test.go:10: broken\n",
		"--- FAIL: TestSub (",
		"FAIL\texample.com/tsum/p\t",
		"\n== summary (go test exit code 1)\n",
		"packages: 0 ok, 2 failed, 1 without tests\n",
		"tests (with subtests): 2 passed, 2 failed, 2 skipped\n",
		"skipped:\n  example.com/tsum/p TestSkip: p_test.go:6: no frobnicator here\n  example.com/tsum/p TestSub/a: p_test.go:8: sub skip 1\n",
		"failed tests:\n  example.com/tsum/p TestSub/c\n  example.com/tsum/p TestSub\n",
		"failed packages:\n  example.com/tsum/r\n  example.com/tsum/p\n",
	} {
		if !strings.Contains(o, want) {
			t.Errorf("output lacks %q:\n%s", want, o)
		}
	}
	for _, never := range []string{"=== RUN", "quiet", "--- PASS", "--- SKIP", "\nPASS\n"} {
		if strings.Contains(o, never) {
			t.Errorf("output has %q, which go test prints only with -v:\n%s", never, o)
		}
	}
	if !strings.Contains(errb.String(), "r/r.go:3:") {
		t.Errorf("standard error lacks the build error:\n%s", errb.String())
	}

	out.Reset()
	if code := run([]string{"-run", "TestPass|TestSkip", "./p"}, dir, &out, &errb); code != 0 {
		t.Errorf("exit code %d for passing tests:\n%s", code, out.String())
	}
	if want := "packages: 1 ok, 0 failed, 0 without tests\ntests (with subtests): 1 passed, 0 failed, 1 skipped\n"; !strings.Contains(out.String(), want) {
		t.Errorf("output lacks %q:\n%s", want, out.String())
	}
}
