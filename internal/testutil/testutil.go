// Package testutil holds small helpers shared by uapid's tests.
package testutil

import (
	"os"
	"os/exec"
	"testing"
)

// RequireTool returns the path of the command-line tool name (looked up in
// PATH). When the tool is missing the test cannot run: under CI (the
// environment variable CI is non-empty) that is a failure, because CI must
// provide every tool the tests need; elsewhere the test is skipped with a
// message saying what to install.
func RequireTool(t testing.TB, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("required tool %q is not installed (CI must provide it): %v", name, err)
	}
	t.Skipf("skipping: tool %q is not installed (%v); install it to run this test", name, err)
	return ""
}
