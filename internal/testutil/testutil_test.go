package testutil

import (
	"testing"
)

func TestRequireToolFound(t *testing.T) {
	if p := RequireTool(t, "sh"); p == "" {
		t.Fatal("RequireTool(sh) returned an empty path")
	}
}

// fakeTB records how RequireTool ends a test without ending the real one.
type fakeTB struct {
	testing.TB
	fatal, skip string
}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Fatalf(format string, args ...any) {
	f.fatal = format
	panic(f)
}
func (f *fakeTB) Skipf(format string, args ...any) {
	f.skip = format
	panic(f)
}

func runMissing(t *testing.T) *fakeTB {
	f := &fakeTB{TB: t}
	func() {
		defer func() {
			if r := recover(); r != nil && r != f {
				panic(r)
			}
		}()
		RequireTool(f, "uapid-no-such-tool-xyz")
	}()
	return f
}

func TestRequireToolMissing(t *testing.T) {
	t.Setenv("CI", "")
	if f := runMissing(t); f.skip == "" || f.fatal != "" {
		t.Errorf("without CI: skip=%q fatal=%q, want a skip", f.skip, f.fatal)
	}
	t.Setenv("CI", "true")
	if f := runMissing(t); f.fatal == "" || f.skip != "" {
		t.Errorf("with CI: skip=%q fatal=%q, want a failure", f.skip, f.fatal)
	}
}
